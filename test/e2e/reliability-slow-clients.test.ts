import { describe, expect, it } from 'vitest';
import { get } from '../helpers/http.js';
import { metricsPage } from '../helpers/metrics-page.js';
import { RawClient } from '../helpers/raw-http.js';
import { startSwitchyard, waitFor } from '../helpers/switchyard.js';
import { startUpstream } from '../helpers/upstream.js';

interface TargetView {
  address: string;
  available: boolean;
  ejected_until: string | null;
}

async function targetsOf(adminUrl: string, service: string): Promise<TargetView[]> {
  const body = (await (await fetch(`${adminUrl}/v1/services/${service}`)).json()) as { stacks: Record<string, { targets: TargetView[] }> };
  return Object.values(body.stacks).flatMap((s) => s.targets);
}

/** Far more than loopback socket buffers hold, so a client that does not read pushes back on the proxy. */
const HUGE = Buffer.alloc(24 * 1024 * 1024, 'x');

/** How many responses of `service` ended with `code` so far, from /metrics. */
async function responsesWith(adminUrl: string, service: string, code: number): Promise<number> {
  const text = await metricsPage(adminUrl);
  const line = text.split('\n').find((l) => l.startsWith('switchyard_requests_total{') && l.includes(`service="${service}"`) && l.includes(`code="${code}"`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('a client that does not read its response (slowhttptest -X)', () => {
  it('is cut after limits.send_timeout; the upstream is not blamed, stays available, and other clients keep getting 200', async () => {
    const serve = (name: string) => startUpstream(name, (req, res) => (req.url === '/huge' ? res.end(HUGE) : res.end(name)));
    const a = await serve('a');
    const b = await serve('b');
    // Without the fix a 300 ms response timeout fires while reading is paused for the
    // client, and one such failure (max_fails: 1) ejects a healthy target.
    const app = await startSwitchyard([{ name: 'web', response_timeout: 300, stacks: { blue: { targets: [a.address, b.address] } } }], {
      upstream: { max_fails: 1, fail_timeout: '1m' },
      limits: { send_timeout: '1500ms' },
    });
    const adminUrl = app.adminUrl;
    const port = app.port('http');
    const started = Date.now();
    const slow = Array.from({ length: 3 }, () => new RawClient(port));
    for (const c of slow) {
      await c.ready();
      c.socket.pause(); // never reads: its receive window closes
      c.write('GET /huge HTTP/1.1\r\nHost: web\r\n\r\n');
    }
    // A client that does not read does not see its connection close either: the proxy's
    // side is watched instead, where a cut response counts as 499.
    const statuses: number[] = [];
    while ((await responsesWith(adminUrl, 'web', 499)) < 3) {
      statuses.push((await get(port)).status);
      await new Promise((r) => setTimeout(r, 20));
    }
    const cutAfter = Date.now() - started;
    for (let i = 0; i < 6; i++) statuses.push((await get(port)).status);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // Cut by the send timeout, not earlier by the upstream's response timeout.
    expect(cutAfter).toBeGreaterThanOrEqual(1500);
    const targets = await targetsOf(adminUrl, 'web');
    expect(targets.map((t) => [t.available, t.ejected_until])).toEqual([
      [true, null],
      [true, null],
    ]);
    const metrics = await metricsPage(adminUrl);
    expect(metrics).not.toMatch(/switchyard_upstream_errors_total\{[^}]*kind="timeout"/);
    // Reading at last, each slow client finds its response cut short.
    for (const c of slow) c.socket.resume();
    await waitFor(() => slow.every((c) => c.closed));
    for (const c of slow) expect(c.text.length).toBeLessThan(HUGE.length);
  });
});

describe('clients that trickle request bodies (slowhttptest -B)', () => {
  it('hold no upstream connection while their bodies are read ahead, so a normal GET gets 200 with max_sockets taken by none', async () => {
    let connections = 0;
    const up = await startUpstream('ok', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(`${req.method} ${Buffer.concat(chunks).length} cl=${req.headers['content-length'] ?? '-'}`));
    });
    up.server.on('connection', () => connections++);
    const app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [up.address] } } }], { upstream: { max_sockets: 4 } });
    const port = app.port('http');
    // Six tricklers, more than max_sockets: bodies larger than the old 64 KiB read-ahead
    // (Content-Length) and chunked ones, each sends a few bytes and stalls. Expect:
    // 100-continue makes the proxy answer once it has taken the request in.
    const heads = [
      ...Array.from({ length: 3 }, () => 'POST /upload HTTP/1.1\r\nHost: web\r\nExpect: 100-continue\r\nContent-Length: 200000\r\n\r\nabcdefghij'),
      ...Array.from({ length: 3 }, () => 'POST /upload HTTP/1.1\r\nHost: web\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'),
    ];
    const tricklers = heads.map((head) => {
      const c = new RawClient(port);
      c.write(head);
      return c;
    });
    await waitFor(() => tricklers.every((c) => c.text.startsWith('HTTP/1.1 100 Continue')));
    expect(await get(port)).toMatchObject({ status: 200, body: 'GET 0 cl=-' });
    expect(connections).toBe(1);
    // A trickler that finishes is forwarded whole, with a Content-Length.
    const last = tricklers[5] as RawClient;
    last.write('0\r\n\r\n');
    await waitFor(() => last.text.includes('POST 5 cl=5'));
  });
  it('never reach an upstream when they stall: limits.request_timeout cuts them first', async () => {
    let connections = 0;
    const up = await startUpstream('ok');
    up.server.on('connection', () => connections++);
    const app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [up.address] } } }], {
      limits: { request_timeout: '500ms', header_timeout: '500ms' },
    });
    const client = new RawClient(app.port('http'));
    await client.ready();
    client.write(`POST /big HTTP/1.1\r\nHost: web\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(10_000)}`);
    await waitFor(() => client.closed, 5000);
    expect(connections).toBe(0);
  });
});

describe('a stack whose only target failed', () => {
  it('is not ejected: the next request after the target recovers from 5xx gets 200', async () => {
    let calls = 0;
    const up = await startUpstream('back', (_req, res) => {
      calls++;
      if (calls <= 3) res.writeHead(500).end('boom');
      else res.end('back');
    });
    const app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [up.address] } } }]);
    const port = app.port('http');
    for (let i = 0; i < 3; i++) expect((await get(port)).status).toBe(500);
    expect(await get(port)).toMatchObject({ status: 200, body: 'back' });
  });

  it('is not ejected: the next request after the target comes back from refusing connections gets 200', async () => {
    const first = await startUpstream('first');
    const port = first.port;
    await first.close();
    const app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [`127.0.0.1:${port}`] } } }]);
    const proxyPort = app.port('http');
    for (let i = 0; i < 3; i++) expect((await get(proxyPort)).status).toBe(502);
    const back = await startUpstream('back');
    await new Promise<void>((resolve) => {
      back.server.close(() => back.server.listen(port, '127.0.0.1', resolve));
    });
    expect(await get(proxyPort)).toMatchObject({ status: 200, body: 'back' });
  });
});
