import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// Issue 11, behind the validators: test/fixtures/unchecked-switchyard.mjs starts switchyard
// with a target `net.connect` refuses synchronously (port 99999), as a bug elsewhere could
// let through. Probing it, forwarding to it (both engines) or upgrading a WebSocket to it
// must fail that one exchange and leave the process running.

const FIXTURE = join(import.meta.dirname, '../fixtures/unchecked-switchyard.mjs');
const BAD = '127.0.0.1:99999';

interface Unchecked {
  readonly child: ChildProcess;
  readonly proxyPort: number;
  readonly adminUrl: string;
  output(): string;
}

const children: ChildProcess[] = [];
const upstreams: Upstream[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await gone;
  }
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

/** Starts the fixture with `services` (validated with placeholder targets) and `raw` targets put in their place. */
async function startUnchecked(services: unknown[], raw: Record<string, Record<string, string[]>>, extra: Record<string, unknown> = {}): Promise<Unchecked> {
  const dir = tempDir();
  const document = {
    listeners: [{ name: 'http', port: 0, address: '127.0.0.1' }],
    admin: { listen: '127.0.0.1:0' },
    state: { path: join(dir, 'state.json') },
    certs_dir: join(dir, 'certs'),
    services,
    ...extra,
  };
  const child = spawn(process.execPath, [FIXTURE, JSON.stringify({ document, unchecked: raw })], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const ready = await new Promise<{ proxy: number; admin: string }>((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      output += c.toString();
      const line = output.split('\n').find((l) => l.startsWith('{"ready":true'));
      if (line) resolve(JSON.parse(line) as { proxy: number; admin: string });
    });
    child.once('exit', (code) => reject(new Error(`switchyard exited with ${code} before it was ready: ${output}`)));
  });
  return { child, proxyPort: ready.proxy, adminUrl: ready.admin, output: () => output };
}

function send(port: number, host: string, method = 'GET', body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path: '/', headers: { host }, agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends a WebSocket upgrade and answers the status line switchyard sends back. */
function upgrade(port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(text.split('\r\n')[0] ?? ''));
    socket.write(
      `GET /chat HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });
}

async function expectAlive(sy: Unchecked): Promise<void> {
  expect(sy.child.exitCode, sy.output()).toBeNull();
  expect(sy.child.signalCode, sy.output()).toBeNull();
  expect((await fetch(`${sy.adminUrl}/healthz`)).status).toBe(200);
}

async function blueGreen(): Promise<[Upstream, Upstream]> {
  const blue = await startUpstream('blue');
  const green = await startUpstream('green');
  upstreams.push(blue, green);
  return [blue, green];
}

describe('guards behind the target validators (issue 11)', () => {
  it('a health probe of a port net.connect refuses fails that probe, on every interval, and the process serves on', async () => {
    const [blue, green] = await blueGreen();
    const sy = await startUnchecked(
      [
        {
          name: 'web',
          health_check: { path: '/health', interval: '50ms', response_timeout: '1s', healthy_threshold: 1, unhealthy_threshold: 1 },
          stacks: { blue: { targets: [blue.address, green.address] }, green: { targets: [green.address] } },
        },
      ],
      { web: { blue: [blue.address, BAD] } },
    );
    type Target = { address: string; healthy: boolean; consecutive_failures: number; last_error: string | null };
    const bad = async () => {
      const body = (await fetch(`${sy.adminUrl}/v1/services/web`).then((r) => r.json())) as { stacks: { blue: { targets: Target[] } } };
      return body.stacks.blue.targets.find((t) => t.address === BAD);
    };
    // Probed again and again by the timer, not only by the first round before the listeners opened.
    await waitFor(async () => ((await bad())?.consecutive_failures ?? 0) >= 3);
    expect(await bad()).toMatchObject({ healthy: false, last_error: 'ERR_SOCKET_BAD_PORT' });
    for (let i = 0; i < 3; i++) expect(await send(sy.proxyPort, 'web.test')).toEqual({ status: 200, body: 'blue' });
    await expectAlive(sy);
  });

  it('the engine answers 502 (or retries another target) when connecting to a target throws; WebSocket upgrades get 502', async () => {
    const [blue] = await blueGreen();
    const sy = await startUnchecked(
      [
        { name: 'web', hosts: ['web.test'], stacks: { blue: { targets: [blue.address, blue.address] } } },
        { name: 'broken', hosts: ['broken.test'], stacks: { blue: { targets: [blue.address] } } },
      ],
      { web: { blue: [BAD, blue.address] }, broken: { blue: [BAD] } },
    );
    // First, while the bad target is not yet passively ejected (503 then, with no connect at all).
    expect(await upgrade(sy.proxyPort, 'broken.test')).toBe('HTTP/1.1 502 Bad Gateway');
    const failed = await send(sy.proxyPort, 'broken.test');
    expect(failed.status).toBe(502);
    expect(failed.body).toContain('UPSTREAM_FAILED');
    expect([502, 503]).toContain((await send(sy.proxyPort, 'broken.test', 'POST', 'a body')).status);
    // Round robin puts half of these on the bad target first: a failed attempt, retried on the good one.
    for (let i = 0; i < 4; i++) expect(await send(sy.proxyPort, 'web.test')).toEqual({ status: 200, body: 'blue' });
    await expectAlive(sy);
  });
});
