/** One move of a path the explorer found: who moved, and what it did. */
export interface ExploreStep {
  readonly actor: string;
  readonly action: string;
}

/** A counterexample as a diagram: one column per actor, time going down (like Mathieu's). */
export function formatCounterexample(steps: readonly ExploreStep[], failure: string): string {
  const actors = [...new Set(['patcher', ...steps.map((s) => s.actor)])];
  const width = 50;
  const cell = (text: string): string => (text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width));
  const lines = [actors.map((a) => cell(a.toUpperCase())).join(' | '), actors.map(() => '-'.repeat(width)).join('-+-')];
  for (const s of steps) lines.push(actors.map((a) => cell(a === s.actor ? s.action : '')).join(' | '));
  lines.push('', `=> ${failure}`);
  return lines.join('\n');
}
