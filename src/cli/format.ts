/** Text output helpers shared by the commands. */

export const count = new Intl.NumberFormat('en-US');

export const millions = (n: number): string => `${(n / 1e6).toFixed(1)} M`;

/** A plain text table: the first column left-aligned, the others right-aligned. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')).join('\n');
}
