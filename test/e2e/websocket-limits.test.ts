import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { Switchyard } from '../../src/app.js';
import { track } from '../helpers/cleanup.js';
import { startSwitchyard } from '../helpers/switchyard.js';

let app: Switchyard | undefined;

/** An echoing WebSocket upstream with no size limit of its own, behind switchyard with `limits`. */
async function proxied(limits: Record<string, unknown>): Promise<WebSocket> {
  const wss = track(new WebSocketServer({ port: 0, host: '127.0.0.1', maxPayload: 0 }));
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(m)));
  const address = `127.0.0.1:${(wss.address() as { port: number }).port}`;
  app = await startSwitchyard([{ name: 'ws', stacks: { blue: { targets: [address] } } }], { limits });
  const client = new WebSocket(`ws://127.0.0.1:${app.port('http')}/`, { maxPayload: 0 });
  client.on('error', () => undefined);
  await new Promise((r) => client.once('open', r));
  return client;
}

const closeCode = (ws: WebSocket) => new Promise<number>((r) => ws.once('close', (code) => r(code)));
const echo = (ws: WebSocket, data: Buffer) =>
  new Promise<number>((r) => {
    ws.once('message', (m: Buffer) => r(m.length));
    ws.send(data);
  });

describe('proxied WebSocket limits', () => {
  it('passes a message at websocket_max_message and closes with 1009 past it', async () => {
    const client = await proxied({ websocket_max_message: 64 * 1024 });
    expect(await echo(client, Buffer.alloc(64 * 1024))).toBe(64 * 1024);
    const closed = closeCode(client);
    client.send(Buffer.alloc(64 * 1024 + 1));
    expect(await closed).toBe(1009);
  });

  it('keeps a WebSocket with traffic open past websocket_idle_timeout, and closes a silent one with 1001', async () => {
    const client = await proxied({ websocket_idle_timeout: '300ms', keepalive_timeout: '100ms' });
    // Time passing is the point: a message every 100 ms for 600 ms, twice the idle timeout.
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 100));
      expect(await echo(client, Buffer.from('tick'))).toBe(4);
    }
    const started = Date.now();
    expect(await closeCode(client)).toBe(1001);
    // Closed by the 300 ms idle timeout, not kept open (loose above: a loaded box may be slow).
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('forwards a frame that arrived in the same packet as the upgrade request', async () => {
    const client = await proxied({});
    client.close();
    const socket = connect(app!.port('http'), '127.0.0.1');
    const payload = Buffer.from('early');
    const mask = Buffer.from([9, 8, 7, 6]);
    const masked = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] as number)));
    const frame = Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
    const upgrade =
      'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
    socket.write(Buffer.concat([Buffer.from(upgrade), frame]));
    let received = Buffer.alloc(0);
    await new Promise<void>((resolve) =>
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        if (received.includes(payload)) resolve();
      }),
    );
    socket.destroy();
    expect(received.toString('latin1')).toContain('101 Switching Protocols');
  });
});
