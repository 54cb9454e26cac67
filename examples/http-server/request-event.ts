import { defineEvent } from '../../src/index.js';

/** One event per request: what a handler thread logs, and what the log file holds. */
export const RequestEvent = defineEvent('http_request', {
  id: 'u32',
  status: 'u16',
  bytes: 'u32',
  micros: 'f64',
  method: 'string',
  path: 'string',
});
