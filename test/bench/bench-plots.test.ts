import { readFileSync } from 'node:fs';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { renderSvg, suitePlots } from '../../bench/plot/plots.js';

/**
 * Every benchmark plot rendered from a small results file (test/bench/fixtures, the shape
 * of bench/results/<suite>.json): the SVG is well-formed XML (fast-xml-parser, a parser we
 * did not write), and it carries the data: one line (or bar) per series or row, and each
 * series' name in the legend or on an axis.
 */

function fixture(suite: string): unknown {
  return JSON.parse(readFileSync(new URL(`./fixtures/${suite}.json`, import.meta.url), 'utf8'));
}

interface Shape {
  /** Paths inside each mark group, by the group's mark class (mark-line, mark-symbol, mark-rect). */
  readonly marks: Map<string, number>;
  readonly texts: string[];
}

function shape(svg: string): Shape {
  expect(XMLValidator.validate(svg)).toBe(true);
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', isArray: (name) => name === 'g' || name === 'path' || name === 'text' }).parse(svg) as Record<string, unknown>;
  const marks = new Map<string, number>();
  const texts: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(walk);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    const el = node as Record<string, unknown>;
    const cls = typeof el['@_class'] === 'string' ? el['@_class'] : '';
    const mark = /^(mark-(?:line|symbol|rect)) role-mark/.exec(cls)?.[1];
    const paths = Array.isArray(el.path) ? (el.path as Record<string, unknown>[]) : [];
    if (mark !== undefined) marks.set(mark, (marks.get(mark) ?? 0) + paths.length);
    if (mark === 'mark-rect') {
      // A bar is drawn "M x,y h width v height h -width Z": both must be non-zero.
      for (const p of paths) {
        const d = /h(-?[\d.]+)v(-?[\d.]+)/.exec(String(p['@_d']));
        expect(d !== null && Number(d[1]) !== 0 && Number(d[2]) !== 0, `bar ${String(p['@_aria-label'])}: ${String(p['@_d'])}`).toBe(true);
      }
    }
    for (const t of Array.isArray(el.text) ? el.text : []) {
      const s = typeof t === 'object' && t !== null ? (t as Record<string, unknown>)['#text'] : t;
      if (s !== undefined) texts.push(String(s));
    }
    for (const [k, v] of Object.entries(el)) if (!k.startsWith('@_') && k !== '#text') walk(v);
  };
  walk(doc.svg);
  expect(doc.svg).toBeDefined();
  return { marks, texts };
}

async function render(suite: string): Promise<Map<string, Shape>> {
  const out = new Map<string, Shape>();
  for (const plot of suitePlots(suite, fixture(suite))) out.set(plot.name, shape(await renderSvg(plot.spec)));
  return out;
}

describe('benchmark plots (vega-lite -> SVG)', () => {
  it('contention: throughput, p99.9 and events per CPU-second vs writers, a line per design and NMI mode', { timeout: 60_000 }, async () => {
    const plots = await render('contention');
    expect([...plots.keys()]).toEqual(['contention-throughput', 'contention-p999', 'contention-cpu']);
    for (const s of plots.values()) {
      expect(s.marks.get('mark-line')).toBe(4 * 2);
      expect(s.marks.get('mark-symbol')).toBe(16);
      for (const label of ['percpu', 'shared', 'locked-page', 'locked', 'none', '1000/s per writer']) expect(s.texts).toContain(label);
    }
  });

  it('patch: wall time vs sites, a line per protocol (the refcount rows left out)', { timeout: 60_000 }, async () => {
    const s = (await render('patch')).get('patch-wall-time');
    expect(s?.marks.get('mark-line')).toBe(3);
    expect(s?.marks.get('mark-symbol')).toBe(9);
    for (const label of ['int3', 'int3-batch', 'stop-machine']) expect(s?.texts).toContain(label);
  });

  it('machine: sync-round percentiles, busy vs idle', { timeout: 60_000 }, async () => {
    const s = (await render('machine')).get('machine-sync-rounds');
    expect(s?.marks.get('mark-rect')).toBe(2 * 4);
    for (const label of ['busy', 'idle', 'p50', 'p99', 'max']) expect(s?.texts).toContain(label);
  });

  it('ring: the cost breakdown, a bar per part', { timeout: 60_000 }, async () => {
    const s = (await render('ring')).get('ring-costs');
    expect(s?.marks.get('mark-rect')).toBe(7);
    for (const label of ['ceiling (raw stores)', 'clock (hrtime)', 'pino to /dev/null', 'ringbuf.js threads']) expect(s?.texts).toContain(label);
  });

  it('eventlog has no plots', () => {
    expect(suitePlots('eventlog', { results: [] })).toEqual([]);
  });
});
