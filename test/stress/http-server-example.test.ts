import { describe, expect, it } from 'vitest';
import { get } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// The compiled example, as an application runs it: its handler threads load handler.js next to it.
const { startServer } = (await import(new URL('../../dist/examples/http-server/server.js', import.meta.url).href)) as typeof import('../../examples/http-server/server.js');
import { startSingleThreadServer } from '../../examples/http-server/single-thread-server.js';

function request(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('request timed out')));
  });
}

describe('examples/http-server', () => {
  it('logs one typed event per request from the handler threads, with the right fields', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringtrace-http-'));
    const logFile = join(dir, 'requests.jsonl');
    const server = await startServer({ logFile, threads: 2 });
    const sent: Array<{ path: string; status: number }> = [];
    try {
      // 300 requests on loopback, 10 at a time; every third one a 404.
      for (let batch = 0; batch < 30; batch++) {
        const paths = Array.from({ length: 10 }, (_, i) => {
          const n = batch * 10 + i;
          return n % 3 === 0 ? `/missing/${n}` : `/items/${n}`;
        });
        const replies = await Promise.all(paths.map((p) => request(server.port, p)));
        replies.forEach((r, i) => {
          const n = Number(paths[i]!.split('/')[2]);
          sent.push({ path: paths[i]!, status: r.status });
          // The intended pattern: every third request misses, every other one finds its item.
          if (n % 3 === 0) {
            expect(r.status, paths[i]).toBe(404);
            expect(JSON.parse(r.body)).toEqual({ error: 'not found' });
          } else {
            expect(r.status, paths[i]).toBe(200);
            expect(JSON.parse(r.body)).toEqual({ item: n, square: n * n });
          }
        });
      }
    } finally {
      expect(await server.close()).toBe(300);
    }
    try {
      const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines).toHaveLength(300);
      expect(lines.every((l) => l['event'] === 'http_request')).toBe(true);
      const ids = lines.map((l) => l['id'] as number).sort((a, b) => a - b);
      expect(ids).toEqual([...Array(300).keys()]);
      const byPath = new Map(lines.map((l) => [l['path'] as string, l]));
      for (const s of sent) {
        const v = byPath.get(s.path)!;
        expect(v['status']).toBe(s.status);
        expect(v['method']).toBe('GET');
        expect(v['bytes']).toBeGreaterThan(0);
        expect(v['micros']).toBeGreaterThanOrEqual(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the single-threaded server logs every request from its main thread through the drain thread', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringtrace-http1-'));
    const logFile = join(dir, 'requests.jsonl');
    const server = await startSingleThreadServer({ logFile });
    const sent: Array<{ path: string; status: number }> = [];
    try {
      for (let batch = 0; batch < 50; batch++) {
        const paths = Array.from({ length: 20 }, (_, i) => (i % 4 === 0 ? `/missing/${batch}-${i}` : `/items/${batch * 20 + i}`));
        const replies = await Promise.all(paths.map((p) => request(server.port, p)));
        replies.forEach((r, i) => {
          expect(r.status, paths[i]).toBe(paths[i]!.startsWith('/missing/') ? 404 : 200);
          sent.push({ path: paths[i]!, status: r.status });
        });
      }
    } finally {
      expect(await server.close()).toBe(1000);
    }
    try {
      const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      // Every request, once, no loss lines, with its path and status, and wall-clock time.
      expect(lines.map((l) => l['id'] as number)).toEqual([...Array(1000).keys()]);
      const byPath = new Map(lines.map((l) => [l['path'] as string, l]));
      for (const s of sent) expect(byPath.get(s.path)?.['status'], s.path).toBe(s.status);
      for (const l of lines) expect(Math.abs((l['time'] as number) - Date.now())).toBeLessThan(600_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
