import { TraceFileReader } from '../trace/trace-reader.js';
import { logEntryOf, type LogEntry } from './event-log.js';
import { schemaFromJson, type EventDescriptor } from './event-schema.js';

/**
 * A trace file written by a log's drain, read back as log entries: the events decoded
 * with the schemas the file carries, merged by timestamp, with `lost` and `corrupt`
 * entries where the drain or the file's reader found them. Slots of later segments (runs
 * appended to the same file) keep their numbers; read the segments apart with
 * `TraceFileReader` if that matters.
 */
export function readTraceLog(path: string, bytes?: Buffer): { entries: LogEntry[]; schemas: EventDescriptor[] } {
  const reader = TraceFileReader.open(path, bytes);
  const entries: LogEntry[] = [];
  const flags = { truncated: false };
  const all = new Map<string, EventDescriptor>();
  let schemas = new Map<number, EventDescriptor>();
  let damaged = new Map<number, string>();
  reader.read({
    segment(segment) {
      schemas = new Map();
      damaged = new Map();
      for (const [type, json] of segment.schemas) {
        try {
          const d = schemaFromJson(json);
          schemas.set(type, d);
          all.set(d.name, d);
        } catch (err) {
          damaged.set(type, `the trace file's schema for it is damaged: ${(err as Error).message}`);
        }
      }
    },
    event(v) {
      entries.push(logEntryOf(schemas.get(v.type), damaged.get(v.type), v.type, v.cpu, v.index, v.timestamp, v.u8, v.offset, v.length, flags));
    },
    lost(l) {
      entries.push({ kind: 'lost', slot: l.cpu, count: l.count, cause: l.cause, beforeIndex: l.beforeIndex });
    },
    corrupt(r) {
      entries.push({ kind: 'corrupt', slot: r.cpu, reason: r.reason });
    },
  });
  return { entries, schemas: [...all.values()] };
}
