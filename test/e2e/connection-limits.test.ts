import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { startSwitchyard, waitFor } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let app: Switchyard | undefined;
const upstreams: Upstream[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await app?.stop(0);
  app = undefined;
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

async function start(limits: Record<string, unknown>): Promise<number> {
  const up = await startUpstream('ok');
  upstreams.push(up);
  app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [up.address] } } }], { limits });
  return app.port('http');
}

/** A raw keep-alive client: one GET, resolving with the status line, or 'closed' when the proxy hangs up first. */
class Client {
  readonly socket: Socket;
  closed = false;
  private text = '';

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    sockets.push(this.socket);
    this.socket.on('data', (c: Buffer) => (this.text += c.toString('latin1')));
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => (this.closed = true));
  }

  async get(): Promise<string> {
    this.text = '';
    this.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await waitFor(() => this.closed || this.text.endsWith('0\r\n\r\n'), 3000);
    return this.closed && this.text === '' ? 'closed' : (this.text.split('\r\n')[0] ?? '');
  }
}

describe('client connection limits', () => {
  it('refuses connections beyond max_connections while the others keep working, and admits one again after a close', async () => {
    const port = await start({ max_connections: 5 });
    const clients = Array.from({ length: 5 }, () => new Client(port));
    for (const c of clients) expect(await c.get()).toBe('HTTP/1.1 200 OK');
    const extra = new Client(port);
    expect(await extra.get()).toBe('closed');
    for (const c of clients) expect(await c.get()).toBe('HTTP/1.1 200 OK');
    clients[0]?.socket.destroy();
    await waitFor(() => clients[0]?.closed === true);
    await new Promise((r) => setTimeout(r, 50));
    expect(await new Client(port).get()).toBe('HTTP/1.1 200 OK');
  });

  it('closes an idle keep-alive client connection after keepalive_timeout', async () => {
    const port = await start({ keepalive_timeout: 300 });
    const client = new Client(port);
    expect(await client.get()).toBe('HTTP/1.1 200 OK');
    const started = Date.now();
    await waitFor(() => client.closed, 3000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(1500);
  });
});
