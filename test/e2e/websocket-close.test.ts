import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { Switchyard } from '../../src/app.js';
import { startChild, writeChildConfig, type ChildSwitchyard } from '../helpers/child-switchyard.js';
import { startSwitchyard, tempDir, waitFor } from '../helpers/switchyard.js';

let app: Switchyard | undefined;
let sy: ChildSwitchyard | undefined;
const servers: Server[] = [];
const sockets: Socket[] = [];
let wss: WebSocketServer | undefined;
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await app?.stop(0);
  app = undefined;
  sy?.child.kill('SIGKILL');
  await sy?.exited;
  sy = undefined;
  wss?.close();
  wss = undefined;
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

const UPGRADE =
  'GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

/**
 * A WebSocket upstream that accepts the upgrade and then never closes on its own: it keeps
 * its side open when the proxy half-closes (allowHalfOpen), like a server that ignores EOF.
 */
async function startStubbornUpstream(): Promise<{ address: string; sockets: Socket[] }> {
  const accepted: Socket[] = [];
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    accepted.push(socket);
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.once('data', () => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n'));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { address: `127.0.0.1:${(server.address() as { port: number }).port}`, sockets: accepted };
}

/** A raw client that upgrades through switchyard; resolves once the 101 arrived. */
async function upgradedClient(port: number, allowHalfOpen = false): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen });
  sockets.push(socket);
  socket.on('error', () => undefined);
  socket.write(UPGRADE);
  await new Promise<void>((resolve) => {
    let text = '';
    const onData = (c: Buffer): void => {
      text += c.toString('latin1');
      if (text.includes('\r\n\r\n')) {
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
  });
  return socket;
}

describe('a proxied WebSocket tunnel closes both sides when either ends', () => {
  it('closes the client socket when the client ends and the upstream does not', async () => {
    const upstream = await startStubbornUpstream();
    app = await startSwitchyard([{ name: 'ws', stacks: { blue: { targets: [upstream.address] } } }]);
    const client = await upgradedClient(app.port('http'));
    expect(app.websockets.count('ws', 'blue')).toBe(1);
    client.end();
    // Without the tie, switchyard half-closes upstream and keeps the client socket until
    // websocket_idle_timeout (1 h by default).
    await waitFor(() => client.closed, 4000);
    await waitFor(() => app?.websockets.count('ws', 'blue') === 0, 2000);
    await waitFor(() => upstream.sockets[0]?.readableEnded === true, 2000);
  });

  it('releases the client socket when the upstream ends and the client does not', async () => {
    const upstream = await startStubbornUpstream();
    app = await startSwitchyard([{ name: 'ws', stacks: { blue: { targets: [upstream.address] } } }]);
    const client = await upgradedClient(app.port('http'), true);
    const ended = new Promise((resolve) => client.once('end', resolve));
    upstream.sockets[0]?.end();
    await ended;
    // The client keeps its side open: switchyard must not wait for it.
    await waitFor(() => app?.websockets.count('ws', 'blue') === 0, 4000);
  });
});

describe('shutdown with open WebSockets', () => {
  it('stop(timeout) closes an open WebSocket with 1001 at the deadline and resolves', async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss?.once('listening', r));
    const address = `127.0.0.1:${(wss.address() as { port: number }).port}`;
    app = await startSwitchyard([{ name: 'ws', stacks: { blue: { targets: [address] } } }]);
    const client = new WebSocket(`ws://127.0.0.1:${app.port('http')}/`);
    client.on('error', () => undefined);
    await new Promise((r) => client.once('open', r));
    const code = new Promise<number>((r) => client.once('close', (c) => r(c)));
    const running = app;
    app = undefined;
    const outcome = await Promise.race([running.stop(200).then(() => 'stopped'), new Promise((r) => setTimeout(r, 5000, 'still running'))]);
    expect(outcome).toBe('stopped');
    expect(await code).toBe(1001);
  });

  it('SIGTERM exits within shutdown_timeout while a WebSocket is open, closing it with 1001', async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss?.once('listening', r));
    const address = `127.0.0.1:${(wss.address() as { port: number }).port}`;
    const services = `  - name: ws\n    stacks: { blue: { targets: ["${address}"] } }\n`;
    const { configPath, proxyPort, adminPort } = await writeChildConfig(tempDir(), services, 'shutdown_timeout: 1s');
    sy = await startChild(configPath, proxyPort, adminPort);
    const client = new WebSocket(`ws://127.0.0.1:${proxyPort}/`);
    client.on('error', () => undefined);
    await new Promise((r) => client.once('open', r));
    const code = new Promise<number>((r) => client.once('close', (c) => r(c)));
    sy.child.kill('SIGTERM');
    const exit = await Promise.race([sy.exited, new Promise((r) => setTimeout(r, 8000, 'still running'))]);
    expect(exit).toBe(0);
    expect(await code).toBe(1001);
  });
});
