/**
 * Named errors of the ring buffer. Each has a stable `code` callers can switch on;
 * option mistakes use the built-in TypeError / RangeError instead.
 */
export class RingError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The memory is not a ring buffer of this layout: wrong magic, version or size. */
export class RingLayoutError extends RingError {
  constructor(message: string) {
    super('ERR_RING_LAYOUT', message);
  }
}

/** A writer or reader role is already held by someone else. */
export class RingOwnershipError extends RingError {
  constructor(message: string) {
    super('ERR_RING_OWNED', message);
  }
}

/** The reader found bytes that cannot be a committed event. It reports and skips them. */
export class RingCorruptError extends RingError {
  constructor(message: string) {
    super('ERR_RING_CORRUPT', message);
  }
}

/** A writer or reader used after its `close()`: claim the role again for a new one. */
export class RingClosedError extends RingError {
  constructor(message: string) {
    super('ERR_RING_CLOSED', message);
  }
}

/**
 * A reservation was left open: `reserve()` returned an offset and neither `commit()` nor
 * `discard()` followed (its fill code threw, say). Every later write would nest inside it
 * and stay invisible, so the writer refuses them instead.
 */
export class RingUnpairedError extends RingError {
  constructor(message: string) {
    super('ERR_RING_UNPAIRED', message);
  }
}

/**
 * A writer in `block` mode would wait on the thread that holds the ring's reader role: the
 * reader frees the pages the writer waits for, so it would wait for itself. Write from
 * another thread, or consume from another thread (a drain thread), or use mode `discard`.
 */
export class RingBlockOnReaderError extends RingError {
  constructor(message: string) {
    super('ERR_RING_BLOCK_ON_READER', message);
  }
}
