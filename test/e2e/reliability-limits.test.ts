import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { Switchyard } from '../../src/app.js';
import { defer } from '../helpers/cleanup.js';
import { RawClient } from '../helpers/raw-http.js';
import { startSpyUpstream, type SpyUpstream } from '../helpers/spy-upstream.js';
import { startSwitchyard, waitFor } from '../helpers/switchyard.js';

/**
 * SPEC §3 limits, end to end on raw sockets: switchyard in front of an upstream that
 * records what reaches it. Rejected requests must reach the upstream with zero bytes.
 */

let app: Switchyard | undefined;
let spy: SpyUpstream | undefined;

/** switchyard (with `extra` config) in front of a fresh spy upstream; resolves with the proxy port. */
async function proxyToSpy(extra: Record<string, unknown> = {}): Promise<number> {
  spy = await startSpyUpstream();
  app = await startSwitchyard([{ name: 'spy', stacks: { blue: { targets: [spy.address] } } }], extra);
  return app.port('http');
}

async function proxyTo(address: string, extra: Record<string, unknown> = {}): Promise<number> {
  app = await startSwitchyard([{ name: 'up', stacks: { blue: { targets: [address] } } }], extra);
  return app.port('http');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const statusOf = (text: string) => /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];

/** A raw upstream that records bytes per connection and never answers (for stalled streaming bodies). */
interface Recorder {
  address: string;
  conns: { bytes: string; closed: boolean }[];
}
async function startRecorder(): Promise<Recorder> {
  const conns: Recorder['conns'] = [];
  const sockets = new Set<Socket>();
  const server: NetServer = createNetServer((socket) => {
    const conn = { bytes: '', closed: false };
    conns.push(conn);
    sockets.add(socket);
    socket.on('data', (c: Buffer) => (conn.bytes += c.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      conn.closed = true;
      sockets.delete(socket);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  defer(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, conns };
}

describe('slow request bodies (limits.request_timeout)', () => {
  // Only request_timeout is set, as an operator would: header_timeout keeps its 10 s default.
  it('cuts a small body that stalls past request_timeout: 500ms within ~1.5 s, even with header_timeout at its 10 s default, forwarding nothing', async () => {
    const port = await proxyToSpy({ limits: { request_timeout: '500ms' } });
    const client = new RawClient(port);
    await client.ready();
    client.write('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789');
    // Far below the 10 s header_timeout a regression would fall back to (loose: a loaded box may be slow).
    await waitFor(() => client.closed, 5000, 'the stalled request cut');
    client.destroy();
    // Small bodies (<= 64 KB) are buffered before the first attempt: nothing reaches the upstream.
    expect(spy!.received()).toBe('');
  });

  it('cuts a stalled streaming body (longer than limits.request_buffer) and closes its upstream connection too', async () => {
    const recorder = await startRecorder();
    const port = await proxyTo(recorder.address, { limits: { request_timeout: '500ms', header_timeout: '500ms', request_buffer: 4096 } });
    const client = new RawClient(port);
    await client.ready();
    client.write(`POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(10_000)}`);
    await waitFor(() => client.closed, 5000, 'the stalled streaming request cut');
    expect(client.text === '' || statusOf(client.text) === '408').toBe(true);
    // The head and the partial body streamed upstream; the upstream socket must then be closed (request aborted).
    await waitFor(() => recorder.conns.length > 0 && recorder.conns.every((c) => c.closed), 1000);
    expect(recorder.conns).toHaveLength(1);
    const seen = recorder.conns[0]!.bytes;
    expect(seen).toMatch(/^POST \/big HTTP\/1\.1\r\n/);
    expect(seen).toMatch(/\r\ncontent-length: 100000\r\n/i);
    // Observed: the 174-byte head and all 10,000 body bytes sent, then the upstream socket closed ~1 s in.
    expect(seen.length - seen.indexOf('\r\n\r\n') - 4).toBe(10_000);
  });
});

describe('WebSocket through the proxy', () => {
  it('keeps an idle proxied WebSocket open past keepalive_timeout: 300ms (2 s idle), and passes a 2 MB message both ways', async () => {
    const server = createHttpServer((_req, res) => res.end('http'));
    const wss = new WebSocketServer({ server, maxPayload: 0 });
    let upstreamClosed = false;
    wss.on('connection', (ws) => {
      ws.on('message', (m: Buffer, isBinary) => ws.send(m, { binary: isBinary }));
      ws.on('close', () => (upstreamClosed = true));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    defer(
      () =>
        new Promise<void>((r) => {
          for (const c of wss.clients) c.terminate();
          wss.close();
          server.closeAllConnections();
          server.close(() => r());
        }),
    );
    const port = await proxyTo(`127.0.0.1:${(server.address() as AddressInfo).port}`, { limits: { keepalive_timeout: '300ms' } });

    const client = new WebSocket(`ws://127.0.0.1:${port}/`, { maxPayload: 0 });
    let closeCode: number | undefined;
    client.on('error', () => undefined);
    client.on('close', (code) => (closeCode = code));
    defer(() => client.terminate());
    await new Promise((r) => client.once('open', r));

    // Time passing is the point: idle for 2 s, well past the 300 ms keepalive_timeout.
    await sleep(2000);
    expect(closeCode).toBeUndefined();
    expect(upstreamClosed).toBe(false);
    expect(client.readyState).toBe(WebSocket.OPEN);

    const big = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const echoed = await new Promise<Buffer>((resolve) => {
      client.once('message', (m: Buffer) => resolve(m));
      client.send(big);
    });
    expect(echoed.length).toBe(big.length);
    expect(echoed.equals(big)).toBe(true);
    expect(client.readyState).toBe(WebSocket.OPEN);
  });
});
