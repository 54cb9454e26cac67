import { availableParallelism } from 'node:os';
import {
  ClockKind,
  type ClockName,
  MAX_CPUS,
  MAX_PAGE_BYTES,
  MAX_PAGES_PER_CPU,
  MIN_PAGE_BYTES,
  MIN_PAGES_PER_CPU,
  Mode,
  type ModeName,
  PAGE_HEADER_BYTES,
  geometry,
} from './layout.js';
import { MAX_LENGTH_FIELD, recordBytes } from './record.js';
import { checkOptionNames } from '../option-check.js';

export interface RingOptions {
  /** Number of CPU buffers (one writer thread each). Defaults to `os.availableParallelism()`. */
  readonly cpus?: number;
  /** Pages in each CPU's ring; one more page is the reader's. Defaults to 64. */
  readonly pagesPerCpu?: number;
  /** Bytes per page, a power of two. Defaults to 4096. */
  readonly pageBytes?: number;
  /** Largest event payload in bytes; at most a quarter of a page's data area. Defaults to 256. */
  readonly maxPayloadBytes?: number;
  /**
   * What a writer does when its ring is full: `overwrite` (flight recorder: lose the oldest),
   * `discard` (lose the newest) or `block` (wait up to `blockTimeoutMs` for the reader to free
   * a page, then lose the newest). Defaults to `overwrite`.
   */
  readonly mode?: ModeName;
  /**
   * Mode `block` only: how long one write may wait for a free page before it is dropped
   * (counted as `dropped`), in ms, an integer 1..60000 (0, or nothing, with the other modes).
   * A main-thread writer stalls its event loop for up to this long. Defaults to 5.
   */
  readonly blockTimeoutMs?: number;
  /**
   * `hrtime` (ns, monotonic across threads), `counter` (a global atomic ticket: a total
   * order) or `coarse` (a ticker thread's µs clock: cheapest, bounded staleness). Defaults to `hrtime`.
   */
  readonly clock?: ClockName;
  /** Tick period of the `coarse` clock's ticker thread, in µs. Defaults to 200. */
  readonly coarsePeriodUs?: number;
}

export interface RingConfig {
  readonly cpus: number;
  readonly pagesPerCpu: number;
  readonly pageBytes: number;
  readonly maxPayloadBytes: number;
  readonly mode: ModeName;
  /** 0 unless `mode` is `block`. */
  readonly blockTimeoutMs: number;
  readonly clock: ClockName;
  readonly coarsePeriodUs: number;
}

/** Every name `RingOptions` knows: anything else is refused. */
export const RING_OPTION_NAMES: readonly (keyof RingOptions)[] = ['cpus', 'pagesPerCpu', 'pageBytes', 'maxPayloadBytes', 'mode', 'blockTimeoutMs', 'clock', 'coarsePeriodUs'];

export const DEFAULT_COARSE_PERIOD_US = 200;
export const DEFAULT_BLOCK_TIMEOUT_MS = 5;
export const MAX_BLOCK_TIMEOUT_MS = 60_000;
export const DEFAULT_PAGES_PER_CPU = 64;
export const DEFAULT_PAGE_BYTES = 4096;
export const DEFAULT_MAX_PAYLOAD_BYTES = 256;
const MAX_BUFFER_BYTES = 2 ** 31 - 1;

function integerOption(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') {
    throw new TypeError(`options.${name} must be a number (got ${typeof value})`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`options.${name} must be an integer between ${min} and ${max} (got ${value})`);
  }
  return value;
}

function choiceOption<T extends string>(name: string, value: unknown, choices: readonly T[]): T {
  if (typeof value !== 'string') {
    throw new TypeError(`options.${name} must be a string, one of ${choices.join(', ')} (got ${typeof value})`);
  }
  if (!(choices as readonly string[]).includes(value)) {
    throw new RangeError(`options.${name} must be one of ${choices.join(', ')} (got ${JSON.stringify(value)})`);
  }
  return value as T;
}

/** Largest payload a page of this size accepts: a quarter of its data area, within the length field. */
export function maxPayloadLimit(pageBytes: number): number {
  return Math.min(MAX_LENGTH_FIELD, Math.floor((pageBytes - PAGE_HEADER_BYTES) / 4) - recordBytes(0, true));
}

/** Validates options eagerly and fills in the documented defaults. */
export function resolveRingOptions(options: RingOptions = {}): RingConfig {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`options must be an object (got ${options === null ? 'null' : typeof options})`);
  }
  checkOptionNames(options, RING_OPTION_NAMES);
  const cpus = integerOption('cpus', options.cpus ?? availableParallelism(), 1, MAX_CPUS);
  const pagesPerCpu = integerOption(
    'pagesPerCpu',
    options.pagesPerCpu ?? DEFAULT_PAGES_PER_CPU,
    MIN_PAGES_PER_CPU,
    MAX_PAGES_PER_CPU,
  );
  const pageBytes = options.pageBytes ?? DEFAULT_PAGE_BYTES;
  if (typeof pageBytes !== 'number') {
    throw new TypeError(`options.pageBytes must be a number (got ${typeof pageBytes})`);
  }
  if (!Number.isInteger(pageBytes) || pageBytes < MIN_PAGE_BYTES || pageBytes > MAX_PAGE_BYTES || (pageBytes & (pageBytes - 1)) !== 0) {
    throw new RangeError(
      `options.pageBytes must be a power of two between ${MIN_PAGE_BYTES} and ${MAX_PAGE_BYTES} (got ${pageBytes})`,
    );
  }
  const maxPayloadBytes = integerOption(
    'maxPayloadBytes',
    options.maxPayloadBytes ?? Math.min(DEFAULT_MAX_PAYLOAD_BYTES, maxPayloadLimit(pageBytes)),
    0,
    maxPayloadLimit(pageBytes),
  );
  const mode = choiceOption('mode', options.mode ?? 'overwrite', Object.keys(Mode) as ModeName[]);
  // 0 is what a config of another mode holds, so a config passes back in as options.
  if (mode !== 'block' && options.blockTimeoutMs !== undefined && options.blockTimeoutMs !== 0) {
    throw new RangeError(`options.blockTimeoutMs applies to mode 'block' only (mode is ${JSON.stringify(mode)}, got ${String(options.blockTimeoutMs)})`);
  }
  const blockTimeoutMs = mode === 'block' ? integerOption('blockTimeoutMs', options.blockTimeoutMs ?? DEFAULT_BLOCK_TIMEOUT_MS, 1, MAX_BLOCK_TIMEOUT_MS) : 0;
  const clock = choiceOption('clock', options.clock ?? 'hrtime', Object.keys(ClockKind) as ClockName[]);
  const coarsePeriodUs = integerOption('coarsePeriodUs', options.coarsePeriodUs ?? DEFAULT_COARSE_PERIOD_US, 20, 1_000_000);
  const total = geometry(cpus, pagesPerCpu, pageBytes).totalBytes;
  if (total > MAX_BUFFER_BYTES) {
    throw new RangeError(
      `options.cpus x options.pagesPerCpu x options.pageBytes must fit in ${MAX_BUFFER_BYTES} bytes (got ${total})`,
    );
  }
  return { cpus, pagesPerCpu, pageBytes, maxPayloadBytes, mode, blockTimeoutMs, clock, coarsePeriodUs };
}
