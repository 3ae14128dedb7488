import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { rawHttp } from '../helpers/raw-http.js';
import { startSpyUpstream, type SpyUpstream } from '../helpers/spy-upstream.js';
import { startSwitchyard } from '../helpers/switchyard.js';

let app: Switchyard;
let spy: SpyUpstream;

beforeAll(async () => {
  spy = await startSpyUpstream();
  app = await startSwitchyard([{ name: 'spy', stacks: { blue: { targets: [spy.address] } } }], {
    limits: { header_timeout: 500, request_timeout: 1000 },
  });
});
afterAll(async () => {
  await app.stop(0);
  await spy.close();
});

/** Sends raw bytes and collects everything until the proxy closes (or `ms` pass). */
const raw = (bytes: string, ms = 3000): Promise<string> => rawHttp(app.port('http'), bytes, ms);

const HOSTILE: [string, string][] = [
  ['CL + TE', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['duplicate Content-Length, different values', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'],
  ['duplicate Content-Length, same value', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab'],
  ['invalid Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\na'],
  ['Transfer-Encoding not ending in chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'],
  ['obs-fold', 'GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n  b\r\n\r\n'],
  ['bare LF', 'GET / HTTP/1.1\nHost: a\n\n'],
  ['two Host lines', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
  ['space before colon', 'GET / HTTP/1.1\r\nHost: a\r\nX-Bad : 1\r\n\r\n'],
  ['h2c upgrade', 'GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n'],
  ['70 KB of headers', `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`],
  ['Transfer-Encoding in HTTP/1.0', 'POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
  ['CONNECT', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'],
  ['a 20 KB request line', `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: a\r\n\r\n`],
];

describe('hostile and malformed requests', () => {
  it.each(HOSTILE)('refuses %s with a 4xx and never forwards it', async (_name, request) => {
    const before = spy.received().length;
    const answer = await raw(request);
    expect(answer).toMatch(/^HTTP\/1\.1 4\d\d /);
    expect(spy.received().length).toBe(before);
  });

  it('answers 431 to oversized headers and 414 to an oversized request line', async () => {
    expect(await raw(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431 /);
    expect(await raw(`GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: a\r\n\r\n`)).toMatch(/^HTTP\/1\.1 414 /);
  });

  it('answers 400 to Transfer-Encoding in HTTP/1.0 and 405 to CONNECT', async () => {
    expect(await raw('POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect(await raw('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n')).toMatch(/^HTTP\/1\.1 405 /);
  });

  it('cuts a request whose body stalls past request_timeout, forwarding nothing', async () => {
    const before = spy.received().length;
    const started = Date.now();
    await raw('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789', 10_000);
    // Cut by the proxy's 1 s request_timeout, not by our 10 s give-up (loose: a loaded box may be slow).
    expect(Date.now() - started).toBeLessThan(8000);
    expect(spy.received().length).toBe(before);
  });

  it('forwards a clean request, and answers pipelined requests in order', async () => {
    const before = spy.received().length;
    const answer = await raw('GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(answer.match(/HTTP\/1\.1 200 /g)).toHaveLength(2);
    const seen = spy.received().slice(before);
    expect(seen.indexOf('GET /one')).toBeLessThan(seen.indexOf('GET /two'));
  });

  it('does not process a request sent after Connection: close', async () => {
    const before = spy.received().length;
    await raw('GET /first HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /second HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(spy.received().slice(before)).not.toContain('/second');
  });

  it('closes a slowloris connection that never finishes its head', async () => {
    const started = Date.now();
    const answer = await raw('GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ', 10_000);
    // Cut by the proxy's 500 ms header_timeout, not by our 10 s give-up (loose: a loaded box may be slow).
    expect(Date.now() - started).toBeLessThan(8000);
    expect(answer === '' || /^HTTP\/1\.1 408 /.test(answer)).toBe(true);
  });
});
