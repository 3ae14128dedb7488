import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { MAX_HEADER_FIELDS } from '../../src/proxy/headers.js';
import { rawHttp } from '../helpers/raw-http.js';
import { startSpyUpstream, type SpyUpstream } from '../helpers/spy-upstream.js';
import { startSwitchyard, waitFor } from '../helpers/switchyard.js';

/**
 * A raw upstream that records each connection's bytes and whether it is closed. It answers
 * 200 to each complete request: a head, and for chunked requests the last chunk too, so a
 * connection holding half a request stays open until switchyard closes it.
 */
interface ConnectionSpy {
  address: string;
  connections: { received: string; closed: boolean }[];
  close(): Promise<void>;
}

/** Length of the first complete request in `text` (head, and a chunked body up to its last chunk), or 0. */
function requestEnd(text: string): number {
  const head = text.indexOf('\r\n\r\n');
  if (head < 0) return 0;
  if (!/\r\ntransfer-encoding: chunked\r\n/i.test(text.slice(0, head + 2))) return head + 4;
  for (let last = text.indexOf('0\r\n\r\n', head + 4); last >= 0; last = text.indexOf('0\r\n\r\n', last + 1)) {
    if (last === head + 4 || text[last - 1] === '\n') return last + 5;
  }
  return 0;
}

async function startConnectionSpy(): Promise<ConnectionSpy> {
  const connections: ConnectionSpy['connections'] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    const record = { received: '', closed: false };
    connections.push(record);
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      record.closed = true;
      sockets.delete(socket);
    });
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      record.received += chunk.toString('latin1');
      pending += chunk.toString('latin1');
      for (let end = requestEnd(pending); end > 0; end = requestEnd(pending)) {
        pending = pending.slice(end);
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as { port: number }).port}`,
    connections,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

let app: Switchyard;
let keeping: Switchyard;
let chunkApp: Switchyard;
let spy: SpyUpstream;
let other: SpyUpstream;
let keepSpy: SpyUpstream;
let chunkSpy: ConnectionSpy;

beforeAll(async () => {
  [spy, other, keepSpy, chunkSpy] = await Promise.all([startSpyUpstream(), startSpyUpstream(), startSpyUpstream(), startConnectionSpy()]);
  app = await startSwitchyard([
    { name: 'other', hosts: ['other.test'], stacks: { blue: { targets: [other.address] } } },
    { name: 'spy', stacks: { blue: { targets: [spy.address] } } },
  ]);
  keeping = await startSwitchyard([{ name: 'keep', stacks: { blue: { targets: [keepSpy.address] } } }], { limits: { underscores_in_headers: true } });
  chunkApp = await startSwitchyard([{ name: 'chunks', stacks: { blue: { targets: [chunkSpy.address] } } }]);
});
afterAll(async () => {
  await Promise.all([app.stop(0), keeping.stop(0), chunkApp.stop(0)]);
  await Promise.all([spy.close(), other.close(), keepSpy.close(), chunkSpy.close()]);
});

/** Sends raw bytes to the main switchyard; resolves with everything received once it closes. */
const raw = (bytes: string): Promise<string> => rawHttp(app.port('http'), bytes);

/** Sends `request` and returns the client's answer and what either spy received meanwhile. */
async function exchange(request: string): Promise<{ answer: string; forwarded: string }> {
  const before = spy.received().length;
  const beforeOther = other.received().length;
  const answer = await raw(request);
  return { answer, forwarded: spy.received().slice(before) + other.received().slice(beforeOther) };
}

const statusOf = (answer: string): string => answer.split('\r\n')[0] ?? '';

describe('Transfer-Encoding (RFC 9112 §6)', () => {
  it.each([
    ['xchunked', 'xchunked'],
    ['identity', 'identity'],
    ['gzip', 'gzip'],
  ])('answers 400 when the final coding is %s, forwarding nothing', async (_name, coding) => {
    const { answer, forwarded } = await exchange(`POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ${coding}\r\n\r\n3\r\nabc\r\n0\r\n\r\n`);
    expect(statusOf(answer)).toBe('HTTP/1.1 400 Bad Request');
    expect(answer).toContain('Connection: close');
    expect(forwarded).toBe('');
  });

  it('answers 501 to gzip, chunked (one line or two) instead of forwarding it as plain chunked', async () => {
    for (const te of ['Transfer-Encoding: gzip, chunked', 'Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked']) {
      const { answer, forwarded } = await exchange(`POST / HTTP/1.1\r\nHost: a\r\n${te}\r\n\r\n3\r\nabc\r\n0\r\n\r\n`);
      expect(statusOf(answer)).toBe('HTTP/1.1 501 Not Implemented');
      expect(answer).toContain('"code":"NOT_IMPLEMENTED"');
      expect(forwarded).toBe('');
    }
  });

  it('answers 400 to chunked given twice', async () => {
    const { answer, forwarded } = await exchange('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    expect(statusOf(answer)).toBe('HTTP/1.1 400 Bad Request');
    expect(forwarded).toBe('');
  });

  it('accepts a chunked body (any case of "chunked") and forwards it with its length', async () => {
    const answer = await rawHttp(
      chunkApp.port('http'),
      'POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    );
    expect(statusOf(answer)).toBe('HTTP/1.1 200 OK');
    const carrying = chunkSpy.connections.find((c) => c.received.includes('POST /c HTTP/1.1'));
    // Read ahead in full (limits.request_buffer), the body goes upstream de-chunked with its length.
    expect(carrying?.received).toMatch(/Content-Length: 3\r\n[\s\S]*\r\n\r\nabc$/);
    expect(carrying?.received).not.toMatch(/Transfer-Encoding/i);
  });
});

describe('malformed chunked bodies', () => {
  it.each([
    ['a 0x prefix', '0x5\r\nhello\r\n0\r\n\r\n'],
    ['a leading space', ' 5\r\nhello\r\n0\r\n\r\n'],
    ['a bare LF in an extension', '5;a=b\nhello\r\n0\r\n\r\n'],
    ['a missing CRLF after the data', '5\r\nhelloX0\r\n\r\n'],
    ['an oversized size', 'fffffffffffffffff\r\nhello\r\n0\r\n\r\n'],
  ])('answers 400 to %s and leaves no upstream connection with half a request', async (_name, body) => {
    const port = chunkApp.port('http');
    const answer = await rawHttp(port, `POST /bad HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
    expect(statusOf(answer)).toBe('HTTP/1.1 400 Bad Request');
    expect(answer).toContain('Connection: close');
    // Whatever of this request reached an upstream is on a connection that gets closed, never reused.
    await waitFor(() => chunkSpy.connections.every((c) => c.closed || !c.received.includes('POST /bad')));
    expect(statusOf(await rawHttp(port, 'GET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'))).toBe('HTTP/1.1 200 OK');
    for (const c of chunkSpy.connections) {
      const bad = c.received.lastIndexOf('POST /bad');
      if (bad >= 0) expect(c.received.slice(bad)).not.toContain('GET /next');
    }
  });
});

describe('header field count', () => {
  const fields = (n: number): string => Array.from({ length: n }, (_, i) => `X-F${i}: 1\r\n`).join('');

  it(`answers 431 past ${MAX_HEADER_FIELDS} fields instead of dropping the rest (Content-Length included)`, async () => {
    const { answer, forwarded } = await exchange(`POST / HTTP/1.1\r\nHost: a\r\n${fields(1500)}Content-Length: 3\r\n\r\nabc`);
    expect(statusOf(answer)).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect(forwarded).toBe('');
    const justOver = await exchange(`POST / HTTP/1.1\r\nHost: a\r\n${fields(MAX_HEADER_FIELDS - 1)}Content-Length: 3\r\n\r\nabc`);
    expect(statusOf(justOver.answer)).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect(justOver.forwarded).toBe('');
  });

  it(`forwards ${MAX_HEADER_FIELDS} fields with the body`, async () => {
    const { answer, forwarded } = await exchange(
      `POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n${fields(MAX_HEADER_FIELDS - 3)}Content-Length: 3\r\n\r\nabc`,
    );
    expect(statusOf(answer)).toBe('HTTP/1.1 200 OK');
    expect(forwarded).toContain(`X-F${MAX_HEADER_FIELDS - 4}: 1`);
    expect(forwarded).toContain('Content-Length: 3');
    expect(forwarded.endsWith('abc')).toBe(true);
  });
});

describe('Host validation (RFC 9112 §3.2)', () => {
  it.each([
    ['a path', 'x/../y'],
    ['a space', 'a b'],
    ['an empty value', ''],
    ['userinfo', 'user@a'],
    ['a non-numeric port', 'a:b'],
    ['a port past 65535', 'a:99999'],
    ['a backslash', 'a\\b'],
  ])('answers 400 to a Host with %s, forwarding nothing', async (_name, host) => {
    const { answer, forwarded } = await exchange(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    expect(statusOf(answer)).toBe('HTTP/1.1 400 Bad Request');
    expect(forwarded).toBe('');
  });

  it('forwards valid hosts: a name with port, an IPv6 literal, a trailing dot', async () => {
    for (const host of ['Example.COM:8080', '[::1]:80', 'a.example.']) {
      const { answer, forwarded } = await exchange(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect(statusOf(answer)).toBe('HTTP/1.1 200 OK');
      expect(forwarded).toContain(`Host: ${host}\r\n`);
      expect(forwarded).toContain(`X-Forwarded-Host: ${host}\r\n`);
    }
  });

  it('refuses an invalid Host on a WebSocket upgrade the same way', async () => {
    const { answer, forwarded } = await exchange(
      'GET / HTTP/1.1\r\nHost: a b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    expect(statusOf(answer)).toBe('HTTP/1.1 400 Bad Request');
    expect(forwarded).toBe('');
  });
});

describe('header names with underscores', () => {
  const request = 'GET /u HTTP/1.1\r\nHost: a\r\nX_Forwarded_For: 6.6.6.6\r\nMy_Header: 1\r\nX-Kept: 1\r\nConnection: close\r\n\r\n';

  it('are dropped by default', async () => {
    const { answer, forwarded } = await exchange(request);
    expect(statusOf(answer)).toBe('HTTP/1.1 200 OK');
    expect(forwarded).toContain('X-Kept: 1');
    expect(forwarded).not.toContain('X_Forwarded_For');
    expect(forwarded).not.toContain('6.6.6.6');
    expect(forwarded).not.toContain('My_Header');
  });

  it('are forwarded with limits.underscores_in_headers: true', async () => {
    const before = keepSpy.received().length;
    expect(statusOf(await rawHttp(keeping.port('http'), request))).toBe('HTTP/1.1 200 OK');
    const forwarded = keepSpy.received().slice(before);
    expect(forwarded).toContain('X_Forwarded_For: 6.6.6.6');
    expect(forwarded).toContain('My_Header: 1');
  });
});

describe('request-target forms and version (RFC 9112 §2.3, §3.2)', () => {
  it('routes an absolute-form target by its authority and forwards origin-form with Host = authority', async () => {
    const { answer, forwarded } = await exchange('GET http://other.test:8080/x?y=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(statusOf(answer)).toBe('HTTP/1.1 200 OK');
    expect(forwarded.startsWith('GET /x?y=1 HTTP/1.1\r\n')).toBe(true);
    expect(forwarded).toContain('Host: other.test:8080\r\n');
    expect(forwarded).not.toContain('Host: a\r\n');
    expect(forwarded).toContain('X-Forwarded-Host: other.test:8080\r\n');
    expect(other.received()).toContain('GET /x?y=1 HTTP/1.1');
  });

  it('sends "/" for an absolute-form target without a path', async () => {
    const { answer, forwarded } = await exchange('GET HTTP://Other.Test?q HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n');
    expect(statusOf(answer)).toBe('HTTP/1.1 200 OK');
    expect(forwarded.startsWith('GET /?q HTTP/1.1\r\n')).toBe(true);
    expect(forwarded).toContain('Host: Other.Test\r\n');
  });

  it('does the same for a WebSocket upgrade, dropping underscore fields there too', async () => {
    const before = other.received().length;
    await raw(
      'GET http://other.test/ws HTTP/1.1\r\nHost: a\r\nMy_Header: 1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    const forwarded = other.received().slice(before);
    expect(forwarded.startsWith('GET /ws HTTP/1.1\r\n')).toBe(true);
    expect(forwarded).toMatch(/\r\nhost: other\.test\r\n/i);
    expect(forwarded).toMatch(/\r\nx-forwarded-host: other\.test\r\n/i);
    expect(forwarded).not.toMatch(/my_header/i);
  });

  it.each([
    ['another scheme', 'GET ftp://other.test/ HTTP/1.1'],
    ['userinfo', 'GET http://u@other.test/ HTTP/1.1'],
    ['an invalid authority', 'GET http://a b/ HTTP/1.1'],
    ['asterisk-form outside OPTIONS', 'GET * HTTP/1.1'],
  ])('answers 400 to a target with %s', async (_name, line) => {
    const { answer, forwarded } = await exchange(`${line}\r\nHost: a\r\n\r\n`);
    expect(statusOf(answer)).toBe('HTTP/1.1 400 Bad Request');
    expect(forwarded).toBe('');
  });

  it('answers OPTIONS * itself with 200 and Allow', async () => {
    const { answer, forwarded } = await exchange('OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(statusOf(answer)).toBe('HTTP/1.1 200 OK');
    expect(answer).toMatch(/\r\nAllow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS\r\n/i);
    expect(forwarded).toBe('');
  });

  it('answers TRACE with 405 and Allow, forwarding nothing (cross-site tracing; nginx does the same)', async () => {
    const { answer, forwarded } = await exchange('TRACE / HTTP/1.1\r\nHost: a\r\nCookie: secret=1\r\nConnection: close\r\n\r\n');
    expect(statusOf(answer)).toBe('HTTP/1.1 405 Method Not Allowed');
    expect(answer).toMatch(/\r\nAllow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS\r\n/i);
    expect(answer).not.toContain('secret=1');
    expect(forwarded).toBe('');
  });

  it.each(['HTTP/2.0', 'HTTP/3.0'])('answers 505 to %s on an HTTP/1 request line', async (version) => {
    const { answer, forwarded } = await exchange(`GET / ${version}\r\nHost: a\r\n\r\n`);
    expect(statusOf(answer)).toBe('HTTP/1.1 505 HTTP Version Not Supported');
    expect(forwarded).toBe('');
  });

  it('still forwards HTTP/1.0', async () => {
    const { answer, forwarded } = await exchange('GET /old HTTP/1.0\r\nHost: a\r\n\r\n');
    expect(statusOf(answer)).toMatch(/^HTTP\/1\.1 200 /);
    expect(forwarded).toContain('GET /old HTTP/1.1');
  });
});
