import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { get } from '../helpers/http.js';
import { metricsPage, seriesValue } from '../helpers/metrics-page.js';
import { startSwitchyard, waitFor } from '../helpers/switchyard.js';
import { startUpstream } from '../helpers/upstream.js';

async function mirrored(app: Switchyard, result: string): Promise<number> {
  const series = `switchyard_mirror_requests_total{service="web",stack="green",result="${result}"}`;
  return seriesValue(await metricsPage(app.adminUrl), series) ?? 0;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function timed(port: number, n: number): Promise<{ bodies: Set<string>; statuses: Set<number>; median: number }> {
  const bodies = new Set<string>();
  const statuses = new Set<number>();
  const took: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    const reply = await get(port, { path: `/item/${i}` });
    took.push(performance.now() - start);
    bodies.add(reply.body);
    statuses.add(reply.status);
  }
  return { bodies, statuses, median: median(took) };
}

describe('mirroring (SPEC §10)', () => {
  it('never makes the client wait for a mirror that hangs; copies beyond max_concurrent are dropped and counted', async () => {
    const blue = await startUpstream('blue');
    const hanging = await startUpstream('green', () => {}); // takes the copy, never answers
    const app = await startSwitchyard([
      {
        name: 'web',
        stacks: { blue: { targets: [blue.address] }, green: { targets: [hanging.address] } },
        mirror: { to: 'standby', percent: 100, max_concurrent: 5, timeout: '1m' },
      },
    ]);
    const port = app.port('http');
    const run = await timed(port, 20);
    // Every answer came from blue, whole, while five copies still hang on green.
    expect(run.bodies).toEqual(new Set(['blue']));
    expect(run.statuses).toEqual(new Set([200]));
    await waitFor(() => hanging.requests.length === 5);
    expect(await mirrored(app, 'dropped')).toBe(15);
    expect(await mirrored(app, 'answered')).toBe(0);
    expect(blue.requests).toHaveLength(20);
    expect(hanging.requests.every((r) => r.headers['x-switchyard-mirror'] === '1')).toBe(true);
    console.info(`median client latency with a hanging mirror: ${run.median.toFixed(2)} ms`);
  });

  it('keeps the client answers when the mirror stack is down, counting the failures', async () => {
    const blue = await startUpstream('blue');
    const dead = await startUpstream('green');
    await dead.close();
    const app = await startSwitchyard([
      { name: 'web', stacks: { blue: { targets: [blue.address] }, green: { targets: [dead.address] } }, mirror: { to: 'green', percent: 100 } },
    ]);
    const run = await timed(app.port('http'), 10);
    expect(run.bodies).toEqual(new Set(['blue']));
    expect(run.statuses).toEqual(new Set([200]));
    await waitFor(async () => (await mirrored(app, 'failed')) === 10);
    // Mirror failures are not the served stack's: blue's request counts show only its own 200s.
    const text = await metricsPage(app.adminUrl);
    expect(text).not.toMatch(/switchyard_requests_total\{service="web",stack="green"/);
  });

  it('copies idempotent requests with their body and Host, not POST, and not bodies over max_body', async () => {
    const blue = await startUpstream('blue');
    const copies: { method: string; url: string; host: string; body: string }[] = [];
    const green = await startUpstream('green', (req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        copies.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '', body });
        res.writeHead(500).end('green says no');
      });
    });
    const app = await startSwitchyard([
      { name: 'web', stacks: { blue: { targets: [blue.address] }, green: { targets: [green.address] } }, mirror: { percent: 100, max_body: 16 } },
    ]);
    const port = app.port('http');
    expect((await get(port, { method: 'PUT', path: '/doc?v=1', headers: { host: 'app.test' }, body: 'hello mirror' })).body).toBe('blue');
    expect((await get(port, { method: 'POST', path: '/form', body: 'not idempotent' })).body).toBe('blue');
    expect((await get(port, { method: 'PUT', path: '/big', body: 'x'.repeat(100) })).body).toBe('blue');
    expect((await get(port, { method: 'PUT', path: '/doc', body: ['chun', 'ked'] })).body).toBe('blue');
    await waitFor(async () => (await mirrored(app, 'answered')) === 2);
    expect(copies).toEqual([
      { method: 'PUT', url: '/doc?v=1', host: 'app.test', body: 'hello mirror' },
      { method: 'PUT', url: '/doc', host: `127.0.0.1:${port}`, body: 'chunked' },
    ]);
    expect(await mirrored(app, 'dropped')).toBe(1);
    expect(blue.requests.map((r) => r.url)).toEqual(['/doc?v=1', '/form', '/big', '/doc']);
  });
});
