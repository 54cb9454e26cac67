/**
 * The common case: a single-threaded `node:http` server that logs one typed event per
 * request from its main thread. The main thread only emits (a few hundred ns, no
 * formatting, no I/O); a drain thread writes the JSON lines. Nothing committed is lost when
 * the process ends, however it ends short of SIGKILL.
 *
 *   npm run build && node dist/examples/http-server/single-thread-server.js 8080 requests.jsonl
 */
import { createServer } from 'node:http';
import { once } from 'node:events';
import { DrainThread, EventLog } from '../../src/index.js';
import { RequestEvent } from './request-event.js';

export async function startSingleThreadServer(options: { readonly port?: number; readonly logFile: string }): Promise<{ port: number; close(): Promise<number> }> {
  // One slot: this thread is the only writer. 8 MiB of pages: a long burst before the drain must keep up.
  const log = EventLog.create({ slots: 1, pagesPerSlot: 1024, pageBytes: 8192, mode: 'discard' });
  const drain = await DrainThread.start(log, { sink: { kind: 'jsonl', path: options.logFile } });
  const writer = log.writer();
  let nextId = 0;
  const server = createServer((req, res) => {
    const started = performance.now();
    const path = req.url ?? '/';
    const match = /^\/items\/(\d+)$/.exec(path);
    const status = req.method === 'GET' && match !== null ? 200 : 404;
    const body = status === 200 ? JSON.stringify({ item: Number(match![1]) }) : '{"error":"not found"}';
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
    writer.emit(RequestEvent, { id: nextId++, status, bytes: body.length, micros: (performance.now() - started) * 1000, method: req.method ?? 'GET', path });
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    async close(): Promise<number> {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const { events } = await drain.close();
      await log.close();
      return events;
    },
  };
}

// Run directly: node dist/examples/http-server/single-thread-server.js [port] [log file]
if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'))) {
  const running = await startSingleThreadServer({ port: Number(process.argv[2] ?? 8080), logFile: process.argv[3] ?? 'requests.jsonl' });
  process.stdout.write(`listening on http://127.0.0.1:${running.port}\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void running.close().then((n) => process.stdout.write(`logged ${n} requests\n`)));
  }
}
