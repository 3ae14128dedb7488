import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import type { HealthCheckConfig } from '../../src/config/schema.js';
import { EventBus } from '../../src/events/bus.js';
import { PassiveHealth } from '../../src/health/passive.js';
import { judge, probe, probeRequest } from '../../src/health/probe.js';
import { Target } from '../../src/pool/target.js';

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
});

function checkOf(block: Record<string, unknown>): HealthCheckConfig {
  const config = validateConfig({
    listeners: [{ name: 'http', port: 0 }],
    admin: { listen: '127.0.0.1:0' },
    services: [{ name: 'web', health_check: block, stacks: { blue: { targets: ['127.0.0.1:1'] } } }],
  });
  const check = config.services[0]?.health_check;
  if (check === undefined) throw new Error('no health_check');
  return check;
}

/** A raw TCP server: records each request, answers with `reply` (or never when undefined). */
async function rawServer(reply: string | undefined, seen: string[] = []): Promise<number> {
  const server = createServer((socket) => {
    sockets.push(socket);
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (text.includes('\r\n\r\n')) {
        seen.push(text);
        if (reply !== undefined) socket.end(reply);
      }
    });
    socket.on('error', () => undefined);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('probe', () => {
  it('accepts the rancher-compose health_check block as it is and sends its request line verbatim', async () => {
    const seen: string[] = [];
    const port = await rawServer('HTTP/1.0 200 OK\r\n\r\nok', seen);
    const check = checkOf({
      port,
      interval: 2000,
      unhealthy_threshold: 3,
      request_line: 'GET /health HTTP/1.0',
      healthy_threshold: 2,
      response_timeout: 2000,
      strategy: 'recreate',
      initializing_timeout: 60000,
      reinitializing_timeout: 60000,
    });
    expect(check).toMatchObject({ port, interval: 2000, response_timeout: 2000, healthy_threshold: 2, unhealthy_threshold: 3 });
    // The target's own port is closed: the probe must use the `port` override.
    const result = await probe(check, new Target('web', 'blue', '127.0.0.1:1', false));
    expect(result).toEqual({ ok: true });
    expect(seen[0]?.startsWith('GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n')).toBe(true);
  });

  it('sends the configured Host header and path', () => {
    const check = checkOf({ path: '/status', host: 'app.internal' });
    expect(probeRequest(check, new Target('web', 'blue', '10.0.0.1:80', false))).toMatch(/^GET \/status HTTP\/1\.1\r\nHost: app\.internal\r\n/);
  });

  it('judges status ranges and body substrings', () => {
    const check = checkOf({ path: '/health', expect_status: '200-204', expect_body: 'UP' });
    expect(judge(check, 'HTTP/1.1 200 OK\r\n\r\nstatus: UP')).toEqual({ ok: true });
    expect(judge(check, 'HTTP/1.1 204 No Content\r\n\r\nUP')).toEqual({ ok: true });
    expect(judge(check, 'HTTP/1.1 302 Found\r\n\r\nUP')).toEqual({ ok: false, error: 'status 302' });
    expect(judge(check, 'HTTP/1.1 200 OK\r\n\r\nDOWN')).toMatchObject({ ok: false });
    expect(judge(check, 'SSH-2.0-OpenSSH')).toEqual({ ok: false, error: 'not an HTTP response' });
  });

  it('fails a target that accepts but never answers within response_timeout', async () => {
    const port = await rawServer(undefined);
    const check = checkOf({ path: '/health', response_timeout: 100 });
    const started = Date.now();
    const result = await probe(check, new Target('web', 'blue', `127.0.0.1:${port}`, true));
    expect(result).toEqual({ ok: false, error: 'timeout after 100 ms' });
    // Not before the timeout; loose above (the message names the 100 ms), for a loaded box.
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('reports a refused connection', async () => {
    const port = await rawServer('x');
    servers[0]?.close();
    await new Promise((r) => servers[0]?.once('close', r));
    const result = await probe(checkOf({ path: '/' }), new Target('web', 'blue', `127.0.0.1:${port}`, true));
    expect(result).toEqual({ ok: false, error: 'ECONNREFUSED' });
  });
});

describe('PassiveHealth', () => {
  it('ejects a target after consecutive failures, and a success resets the count', () => {
    const events = new EventBus();
    const passive = new PassiveHealth({ failures: 3, cooldown: 10_000 }, events);
    const ejected: string[] = [];
    events.subscribe((e) => e.type === 'health' && e.source === 'passive' && !e.healthy && ejected.push(e.target));
    const target = new Target('web', 'blue', '127.0.0.1:80', true);
    const stack = [target, new Target('web', 'blue', '127.0.0.1:81', true)];
    passive.failure(target, stack);
    passive.failure(target, stack);
    passive.success(target);
    passive.failure(target, stack);
    passive.failure(target, stack);
    expect(target.isAvailable(Date.now())).toBe(true);
    passive.failure(target, stack);
    expect(ejected).toEqual([target.address]);
    expect(target.isAvailable(Date.now())).toBe(false);
    expect(target.isAvailable(Date.now() + 10_001)).toBe(true);
  });
});

describe('probe against a target that ignores Connection: close', () => {
  it('decides on the status without waiting for the connection to end', async () => {
    const server = createServer((socket) => {
      sockets.push(socket);
      socket.once('data', () => socket.write('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n'));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const check = checkOf({ path: '/health', response_timeout: 2000 });
    expect(await probe(check, new Target('web', 'blue', `127.0.0.1:${address.port}`, true))).toEqual({ ok: false, error: 'status 503' });
  });
});
