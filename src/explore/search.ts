import type { ExploreStep } from './diagram.js';

/** A state a move leads to, what the move did, and the failure it shows (null: none). */
export interface Outcome<S> {
  readonly world: S;
  readonly action: string;
  readonly failure: string | null;
}

/** A move: its actor, and the states it leads to (several when the fetch model chooses). */
export interface Move<S> {
  readonly actor: string;
  readonly apply: (state: S) => Array<Outcome<S>>;
}

/** The state graph the search walks: what distinguishes states, the moves out of one, and when a stop is a deadlock. */
export interface StateSpace<S> {
  key(state: S): string;
  moves(state: S): Move<S>[];
  /** A state with no move left: why that is a deadlock, or null if every actor is done. */
  deadlock(state: S): string | null;
}

export interface SearchLimits {
  /** Longest path explored, in moves. */
  readonly bound: number;
  /** Distinct states after which the search gives up (and says it is incomplete). */
  readonly maxStates: number;
}

export interface SearchResult {
  readonly statesExplored: number;
  /** Moves tried (edges of the explored state graph). */
  readonly transitions: number;
  /**
   * Complete interleavings covered: paths from the start to a state where nothing is left to
   * do (or to the bound), counted exactly through the memoised state graph (a bigint: they
   * outgrow a double). 0 if a counterexample ended the search early.
   */
  readonly interleavings: bigint;
  /** The path to the first failure found, or null. */
  readonly counterexample: ExploreStep[] | null;
  readonly failure: string | null;
  /** Some path was cut at the bound. */
  readonly boundReached: boolean;
  /** The state cap was hit: the search is incomplete. */
  readonly incomplete: boolean;
}

class Found extends Error {}

/**
 * Depth-first search of every path from `initial` up to the bound, pruning states seen
 * before (state hashing), stopping at the first failure. The number of complete paths is
 * counted through the memoised graph (paths from a state are the sum over its moves), so
 * it is exact without walking each path.
 */
export function search<S>(space: StateSpace<S>, initial: S, limits: SearchLimits): SearchResult {
  const seen = new Map<string, bigint>();
  const path: ExploreStep[] = [];
  let transitions = 0;
  let boundReached = false;
  let incomplete = false;
  let counterexample: ExploreStep[] | null = null;
  let failure: string | null = null;

  /** Explores from `state`; returns the number of complete paths from it. */
  const visit = (state: S, depth: number): bigint => {
    const key = space.key(state);
    const known = seen.get(key);
    if (known !== undefined) return known;
    if (seen.size >= limits.maxStates) {
      incomplete = true;
      return 0n;
    }
    if (depth >= limits.bound) {
      boundReached = true;
      return 1n;
    }
    seen.set(key, 0n);
    const available = space.moves(state);
    if (available.length === 0) {
      const stuck = space.deadlock(state);
      if (stuck !== null) {
        counterexample = [...path];
        failure = stuck;
        throw new Found();
      }
      seen.set(key, 1n);
      return 1n;
    }
    let paths = 0n;
    for (const move of available) {
      for (const child of move.apply(state)) {
        transitions++;
        path.push({ actor: move.actor, action: child.action });
        if (child.failure !== null) {
          counterexample = [...path];
          failure = `${move.actor} ${child.failure}`;
          throw new Found();
        }
        paths += visit(child.world, depth + 1);
        path.pop();
      }
    }
    seen.set(key, paths);
    return paths;
  };

  let interleavings = 0n;
  try {
    interleavings = visit(initial, 0);
  } catch (err) {
    if (!(err instanceof Found)) throw err;
  }
  return { statesExplored: seen.size, transitions, interleavings, counterexample, failure, boundReached, incomplete };
}
