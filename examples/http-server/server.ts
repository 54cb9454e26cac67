/**
 * A small HTTP server whose request handling runs on worker threads (a piscina pool), each
 * logging one typed event per request through ringtrace; a drain thread writes the log to a
 * file as JSON lines, so neither the handlers nor the main thread format or write a line.
 * (The common single-threaded case is single-thread-server.ts.)
 *
 *   npm run build && node dist/examples/http-server/server.js 8080 requests.jsonl
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { DrainThread, EventLog } from '../../src/index.js';
import type { HandlerResult, HandlerTask } from './handler.js';

export interface RunningServer {
  readonly port: number;
  /** Stops accepting, finishes the requests in flight, flushes the log file, ends every thread. Resolves with the request events written. */
  close(): Promise<number>;
}

export async function startServer(options: { readonly port?: number; readonly logFile: string; readonly threads?: number }): Promise<RunningServer> {
  const threads = options.threads ?? 2;
  const log = EventLog.create({ slots: threads, pagesPerSlot: 64, pageBytes: 8192, mode: 'discard' });
  const pool = new Piscina<HandlerTask, HandlerResult>({
    // The handler module next to this one (compiled: handler.js).
    filename: fileURLToPath(new URL('./handler.js', import.meta.url)),
    minThreads: threads,
    maxThreads: threads,
    workerData: { handle: log.handle },
    execArgv: [],
  });
  // Also finishes the log file if the process is killed (SIGTERM from Docker or systemd) or crashes.
  const drain = await DrainThread.start(log, { sink: { kind: 'jsonl', path: options.logFile } });
  let nextId = 0;
  const server: Server = createServer((req, res) => {
    const task: HandlerTask = { id: nextId++, method: req.method ?? 'GET', path: req.url ?? '/' };
    pool.run(task).then(
      (r) => {
        res.writeHead(r.status, { 'content-type': 'application/json' });
        res.end(r.body);
      },
      (err: unknown) => {
        res.writeHead(500);
        res.end(String(err));
      },
    );
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    async close(): Promise<number> {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.destroy();
      // Events, not the loss records beside them (there are none unless the ring was full).
      const { events } = await drain.close();
      await log.close();
      return events;
    },
  };
}

// Run directly: node dist/examples/http-server/server.js [port] [log file]
if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'))) {
  const running = await startServer({ port: Number(process.argv[2] ?? 8080), logFile: process.argv[3] ?? 'requests.jsonl' });
  process.stdout.write(`listening on http://127.0.0.1:${running.port}\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void running.close().then((n) => process.stdout.write(`logged ${n} requests\n`)));
  }
}
