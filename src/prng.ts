/**
 * The deterministic PRNG of every seeded run (mulberry32): tests, stress harnesses and
 * workloads draw from it so a printed seed replays the run.
 *
 * The state is kept as a signed int32 (`| 0`), not as `>>> 0`: a captured variable holding
 * an unsigned value above 2^31 - 1 is not a small integer to V8 and is boxed on every
 * store, which made each draw allocate. The sequence is the same bit for bit.
 */
export function prng(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
