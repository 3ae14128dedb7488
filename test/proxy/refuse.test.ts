import { createServer, connect, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { CLOSE_GRACE, closeSocket, refuse } from '../../src/proxy/refuse.js';
import { waitFor } from '../helpers/switchyard.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

/** A connected socket pair: `act` runs on the server side; resolves with what the client read until close. */
async function serverSide(act: (socket: Socket) => void): Promise<string> {
  server = createServer(act);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const client = connect((server.address() as { port: number }).port, '127.0.0.1');
  let text = '';
  client.on('data', (c: Buffer) => (text += c.toString('latin1')));
  await new Promise((resolve) => client.on('close', resolve));
  return text;
}

/** A socket whose writes never flush: a peer that never reads, or a TLS handshake that never finishes. */
function stuckSocket(): Duplex {
  return new Duplex({
    read() {},
    write(_chunk, _encoding, _callback) {},
  });
}

describe('refuse', () => {
  it('answers the catalogue status with a JSON body, Connection: close, and closes the connection', async () => {
    const text = await serverSide((socket) => refuse(socket, 'HEADERS_TOO_LARGE'));
    const [head, body] = text.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(head).toContain('\r\nConnection: close');
    expect(head).toContain(`\r\nContent-Length: ${Buffer.byteLength(body ?? '')}`);
    expect(JSON.parse(body ?? '')).toEqual({ error: { code: 'HEADERS_TOO_LARGE', message: 'Request header fields too large' } });
  });

  it('adds a header line and a refined message', async () => {
    const text = await serverSide((socket) => refuse(socket, 'METHOD_NOT_ALLOWED', { header: 'Allow: GET', message: 'no CONNECT' }));
    expect(text).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\n/);
    expect(text).toContain('\r\nAllow: GET\r\n');
    expect(text).toContain('"message":"no CONNECT"');
  });

  it('sends no body to a HEAD request', async () => {
    const text = await serverSide((socket) => refuse(socket, 'BAD_REQUEST', { head: true }));
    expect(text).toContain('Content-Length: 0\r\n');
    expect(text.endsWith('\r\n\r\n')).toBe(true);
  });

  it('destroys a socket whose answer never flushes after CLOSE_GRACE', async () => {
    const socket = stuckSocket();
    const started = Date.now();
    refuse(socket, 'BAD_REQUEST');
    expect(socket.destroyed).toBe(false);
    await waitFor(() => socket.destroyed, CLOSE_GRACE + 3000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(CLOSE_GRACE - 50);
  });
});

describe('closeSocket', () => {
  it('destroys a socket that can no longer be written at once', () => {
    const socket = stuckSocket();
    socket.end();
    closeSocket(socket, 'late');
    expect(socket.destroyed).toBe(true);
  });

  it('survives an error on the closing socket', async () => {
    const socket = stuckSocket();
    closeSocket(socket);
    socket.destroy(new Error('boom'));
    await waitFor(() => socket.destroyed);
  });
});
