import { request } from 'node:https';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { startSwitchyard, waitFor } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let app: Switchyard | undefined;
let upstream: Upstream | undefined;
const silent: Socket[] = [];
afterEach(async () => {
  for (const s of silent.splice(0)) s.destroy();
  await app?.stop(0);
  app = undefined;
  await upstream?.close();
  upstream = undefined;
});

/** A switchyard with one TLS listener (self-signed localhost certificate) in front of an `ok` upstream. */
async function start(limits: Record<string, unknown>): Promise<number> {
  upstream = await startUpstream('ok');
  app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [upstream.address] } } }], {
    listeners: [{ name: 'https', port: 0, address: '127.0.0.1', tls: true, default_cert: 'localhost' }],
    limits,
  });
  return app.port('https');
}

/** Opens `n` TCP connections that never send a byte; resolves once all are connected. */
async function openSilent(port: number, n: number): Promise<Socket[]> {
  const sockets = Array.from({ length: n }, () => connect(port, '127.0.0.1'));
  for (const s of sockets) {
    s.on('error', () => undefined);
    silent.push(s);
  }
  await Promise.all(sockets.map((s) => new Promise((resolve) => (s.connecting ? s.once('connect', resolve) : resolve(undefined)))));
  return sockets;
}

const closedCount = (sockets: Socket[]): number => sockets.filter((s) => s.closed).length;

/** One HTTPS GET; resolves with the status, or the error code when the connection fails. */
function httpsGet(port: number): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', rejectUnauthorized: false, agent: false, headers: { host: 'a' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

describe('TLS connections silent before the handshake', () => {
  it('are closed at header_timeout, with nothing written, while HTTPS keeps working', async () => {
    const port = await start({ header_timeout: '600ms', max_connections: 1000 });
    const sockets = await openSilent(port, 200);
    const received: string[] = [];
    for (const s of sockets) s.on('data', (c: Buffer) => received.push(c.toString('latin1')));
    expect(await httpsGet(port)).toBe(200);
    // Node's default handshake timeout is 120 s; each of these would then be answered with an
    // unflushable HTTP 400 and kept in CLOSE-WAIT for good.
    await waitFor(() => closedCount(sockets) === sockets.length, 8000);
    expect(received).toEqual([]);
    expect(await httpsGet(port)).toBe(200);
  });

  it('count against max_connections, and free their slots at header_timeout', async () => {
    const port = await start({ header_timeout: '600ms', max_connections: 5 });
    const sockets = await openSilent(port, 5);
    // The sixth connection is refused while five handshakes are pending.
    expect(await httpsGet(port)).toMatch(/^E/);
    await waitFor(() => closedCount(sockets) === 5, 8000);
    await waitFor(async () => (await httpsGet(port)) === 200, 3000);
  });

  it('do not hold up stop(): they are cut at the drain deadline', async () => {
    const port = await start({ header_timeout: '60s' });
    const sockets = await openSilent(port, 20);
    const running = app as Switchyard;
    app = undefined;
    const stopped = running.stop(100).then(() => 'stopped');
    const outcome = await Promise.race([stopped, new Promise((r) => setTimeout(r, 6000, 'still running'))]);
    expect(outcome).toBe('stopped');
    await waitFor(() => closedCount(sockets) === 20, 2000);
  });
});
