/**
 * The request handler, run on a piscina pool thread: it answers one request and logs one
 * typed event through the thread's own ringtrace writer (claimed on the first request).
 */
import { workerData } from 'node:worker_threads';
import { EventLog } from '../../src/index.js';
import { RequestEvent } from './request-event.js';

export interface HandlerTask {
  readonly id: number;
  readonly method: string;
  readonly path: string;
}

export interface HandlerResult {
  readonly status: number;
  readonly body: string;
}

const log = EventLog.attach((workerData as { handle: unknown }).handle);

export default function handle(task: HandlerTask): HandlerResult {
  const started = performance.now();
  const match = /^\/items\/(\d+)$/.exec(task.path);
  const result: HandlerResult =
    task.method === 'GET' && match !== null
      ? { status: 200, body: JSON.stringify({ item: Number(match[1]), square: Number(match[1]) ** 2 }) }
      : { status: 404, body: JSON.stringify({ error: 'not found' }) };
  log.writer().emit(RequestEvent, {
    id: task.id,
    status: result.status,
    bytes: Buffer.byteLength(result.body),
    micros: (performance.now() - started) * 1000,
    method: task.method,
    path: task.path,
  });
  return result;
}
