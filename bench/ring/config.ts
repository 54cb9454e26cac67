import { PAGE_HEADER_BYTES } from '../../src/ring/layout.js';
import { RECORD_BYTES } from './payload.js';

/**
 * The ring geometry of every ring benchmark: the library defaults (64 pages of 4 KiB per
 * CPU), big enough that a page switch (one every EVENTS_PER_PAGE events) is amortised,
 * small enough (256 KiB) that the writers lap it many times, so switches, and in
 * overwrite mode overruns of the oldest page, happen throughout every measurement.
 */
export const PAGES_PER_CPU = 64;
export const PAGE_BYTES = 4096;
/** Bytes of page data every CPU buffer holds: also the ceiling's and ringbuf.js's buffer size. */
export const RING_DATA_BYTES = PAGES_PER_CPU * PAGE_BYTES;
/** 24-byte records with relative timestamps per page. */
export const EVENTS_PER_PAGE = Math.floor((PAGE_BYTES - PAGE_HEADER_BYTES) / RECORD_BYTES);
