import {
  ClockKind,
  type ClockName,
  G_CLOCK,
  G_CPU_COUNT,
  G_COARSE_PERIOD_US,
  G_CPU_STRIDE,
  G_MAGIC,
  G_MAX_PAYLOAD,
  G_MODE,
  G_BLOCK_TIMEOUT_MS,
  G_PAGES_PER_CPU,
  G_PAGE_BYTES,
  G_TOTAL_BYTES,
  G_VERSION,
  GLOBAL_HEADER_BYTES,
  LAYOUT_VERSION,
  MAGIC,
  Mode,
  type ModeName,
  type RingGeometry,
  cpuBase,
  geometry,
  pagesBase,
  slotTableBase,
} from './layout.js';
import { RingLayoutError } from './errors.js';
import { resolveRingOptions, type RingConfig } from './options.js';

/**
 * Typed views of one ring buffer's memory plus its validated configuration: what every
 * writer, reader and snapshot of any thread builds first.
 */
export class RingView {
  readonly sab: SharedArrayBuffer;
  /** Where the ring starts in `sab`; every view below starts there, so offsets are ring-relative. */
  readonly byteOffset: number;
  readonly config: RingConfig;
  readonly geometry: RingGeometry;
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;

  constructor(sab: SharedArrayBuffer, config: RingConfig, byteOffset = 0) {
    this.sab = sab;
    this.byteOffset = byteOffset;
    this.config = config;
    this.geometry = geometry(config.cpus, config.pagesPerCpu, config.pageBytes);
    const bytes = this.geometry.totalBytes;
    this.u8 = new Uint8Array(sab, byteOffset, bytes);
    this.i32 = new Int32Array(sab, byteOffset, bytes / 4);
    this.f64 = new Float64Array(sab, byteOffset, bytes / 8);
  }

  /** Checks where a ring may be placed in a buffer. */
  static checkPlacement(sab: SharedArrayBuffer, byteOffset: number, bytes: number): void {
    if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % 64 !== 0) {
      throw new RangeError(`byteOffset must be a non-negative multiple of 64 (got ${byteOffset})`);
    }
    if (byteOffset + bytes > sab.byteLength) {
      throw new RangeError(`a ring of ${bytes} bytes at byteOffset ${byteOffset} does not fit a buffer of ${sab.byteLength} bytes`);
    }
  }

  /** Reads and checks the header of a buffer made by `RingBuffer.create`, in any thread. */
  static fromBuffer(sab: unknown, byteOffset = 0): RingView {
    if (!(sab instanceof SharedArrayBuffer)) {
      throw new TypeError(`a ring buffer is a SharedArrayBuffer (got ${sab === null ? 'null' : typeof sab})`);
    }
    RingView.checkPlacement(sab, byteOffset, 0);
    if (sab.byteLength < byteOffset + GLOBAL_HEADER_BYTES) {
      throw new RingLayoutError(`buffer of ${sab.byteLength} bytes has no room for a ring header at ${byteOffset}`);
    }
    const u32 = new Uint32Array(sab, byteOffset, GLOBAL_HEADER_BYTES / 4);
    const magic = u32[G_MAGIC / 4]!;
    if (magic !== MAGIC) {
      throw new RingLayoutError(`not a ringtrace buffer: magic 0x${magic.toString(16)} (want 0x${MAGIC.toString(16)})`);
    }
    const version = u32[G_VERSION / 4]!;
    if (version !== LAYOUT_VERSION) {
      throw new RingLayoutError(`ring layout version ${version} is not supported (this build reads version ${LAYOUT_VERSION})`);
    }
    const modeName = (Object.keys(Mode) as ModeName[]).find((k) => Mode[k] === u32[G_MODE / 4]);
    const clockName = (Object.keys(ClockKind) as ClockName[]).find((k) => ClockKind[k] === u32[G_CLOCK / 4]);
    if (modeName === undefined || clockName === undefined) {
      throw new RingLayoutError(`ring header names an unknown mode (${u32[G_MODE / 4]}) or clock (${u32[G_CLOCK / 4]})`);
    }
    let config: RingConfig;
    try {
      config = resolveRingOptions({
        cpus: u32[G_CPU_COUNT / 4]!,
        pagesPerCpu: u32[G_PAGES_PER_CPU / 4]!,
        pageBytes: u32[G_PAGE_BYTES / 4]!,
        maxPayloadBytes: u32[G_MAX_PAYLOAD / 4]!,
        mode: modeName,
        ...(modeName === 'block' ? { blockTimeoutMs: u32[G_BLOCK_TIMEOUT_MS / 4]! } : {}),
        clock: clockName,
        coarsePeriodUs: u32[G_COARSE_PERIOD_US / 4]!,
      });
    } catch (err) {
      throw new RingLayoutError(`ring header holds an impossible configuration: ${(err as Error).message}`);
    }
    const g = geometry(config.cpus, config.pagesPerCpu, config.pageBytes);
    // A ring alone fills its buffer exactly; a ring placed in a larger buffer must fit it.
    const room = sab.byteLength - byteOffset;
    if (u32[G_CPU_STRIDE / 4] !== g.cpuStride || u32[G_TOTAL_BYTES / 4] !== g.totalBytes || (byteOffset === 0 ? room !== g.totalBytes : room < g.totalBytes)) {
      throw new RingLayoutError(
        `ring header does not match the buffer: ${room} bytes from ${byteOffset}, header says ${u32[G_TOTAL_BYTES / 4]}, geometry needs ${g.totalBytes}`,
      );
    }
    return new RingView(sab, config, byteOffset);
  }

  checkCpu(cpu: unknown): number {
    if (typeof cpu !== 'number') throw new TypeError(`cpu must be a number (got ${typeof cpu})`);
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.config.cpus) {
      throw new RangeError(`cpu must be an integer between 0 and ${this.config.cpus - 1} (got ${cpu})`);
    }
    return cpu;
  }

  controlBase(cpu: number): number {
    return cpuBase(this.geometry, cpu);
  }

  slotBase(cpu: number): number {
    return slotTableBase(this.geometry, cpu);
  }

  pagesBase(cpu: number): number {
    return pagesBase(this.geometry, cpu);
  }

  pageAt(cpu: number, phys: number): number {
    return pagesBase(this.geometry, cpu) + phys * this.config.pageBytes;
  }

  /** f64 word of the control block. */
  controlF64(cpu: number, offset: number): number {
    return this.f64[(this.controlBase(cpu) + offset) >> 3]!;
  }

  controlI32(cpu: number, offset: number): number {
    return this.i32[(this.controlBase(cpu) + offset) >> 2]!;
  }
}

