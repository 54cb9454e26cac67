/**
 * Seeds for randomised tests: SEED=... replays a run; otherwise a fresh seed is drawn
 * and printed so any failure can be replayed.
 */
export function testSeed(name: string): number {
  const fromEnv = process.env['SEED'];
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
  console.log(`[seed] ${name}: SEED=${seed}`);
  return seed;
}

export { prng } from '../src/prng.js';
