import { execFile, spawnSync } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { Switchyard } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { defer } from '../helpers/cleanup.js';
import { h2Request, h2Session } from '../helpers/h2.js';
import { startSwitchyard } from '../helpers/switchyard.js';
import { startBlueGreen, startUpstream } from '../helpers/upstream.js';

const TLS_LISTENER = { name: 'https', port: 0, address: '127.0.0.1', tls: true, default_cert: 'localhost' };

/** A switchyard with a plain and a TLS listener (extra listener keys merged into the TLS one) in front of `services`. */
function start(services: unknown[], listener: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<Switchyard> {
  return startSwitchyard(services, {
    listeners: [
      { name: 'http', port: 0, address: '127.0.0.1' },
      { ...TLS_LISTENER, ...listener },
    ],
    ...extra,
  });
}

/** The protocol ALPN settles on when a client offers `protocols`, or the handshake's error code. */
function alpn(port: number, protocols: string[]): Promise<string | false> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ALPNProtocols: protocols, rejectUnauthorized: false });
    socket.once('secureConnect', () => {
      resolve(socket.alpnProtocol ?? false);
      socket.destroy();
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** One HTTPS/1.1 request (no ALPN offered, as wrk and old clients); resolves with status, HTTP version and body. */
function https1(port: number, path = '/', headers: Record<string, string> = { host: 'localhost' }): Promise<{ status: number; version: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, headers, rejectUnauthorized: false, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, version: res.httpVersion, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const curlHasHttp2 = /\bHTTP2\b/.test(spawnSync('curl', ['--version'], { encoding: 'utf8' }).stdout ?? '');

/** Header names an upstream request arrived with, lower case. */
const namesOf = (req: IncomingMessage): string[] => req.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());

describe('HTTP/2 on TLS listeners', () => {
  describe('ALPN', () => {
    it('negotiates h2 and http/1.1 on the same port, and serves both', async () => {
      const { services } = await startBlueGreen();
      const app = await start(services);
      const port = app.port('https');
      expect(await alpn(port, ['h2', 'http/1.1'])).toBe('h2');
      expect(await alpn(port, ['http/1.1'])).toBe('http/1.1');
      const session = await h2Session(port);
      const reply = await h2Request(session);
      expect({ status: reply.status, body: reply.body }).toEqual({ status: 200, body: 'blue' });
      // A client offering no ALPN at all (wrk, old tools) gets HTTP/1.1.
      expect(await https1(port)).toEqual({ status: 200, version: '1.1', body: 'blue' });
    });

    it('serves http/1.1 only with http2: false', async () => {
      const { services } = await startBlueGreen();
      const app = await start(services, { http2: false });
      const port = app.port('https');
      // RFC 7301 §3.2: no protocol in common is a no_application_protocol alert.
      expect(await alpn(port, ['h2'])).toBe('ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL');
      expect(await alpn(port, ['h2', 'http/1.1'])).toBe('http/1.1');
      expect(await https1(port)).toEqual({ status: 200, version: '1.1', body: 'blue' });
    });

    it('refuses http2: true on a plain listener, naming the key', () => {
      const config = {
        listeners: [{ name: 'http', port: 0, http2: true }],
        services: [{ name: 'web', stacks: { blue: { targets: ['127.0.0.1:1'] } } }],
      };
      expect(() => validateConfig(config)).toThrow(/listeners\.0\.http2|listeners\[0\]\.http2/);
    });

    it('keeps WebSockets on HTTP/1.1: a wss upgrade through the h2-enabled listener is proxied; h2 offers no extended CONNECT', async () => {
      const upstream = await startUpstream('http');
      const wss = new WebSocketServer({ server: upstream.server });
      wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo ${String(m)}`)));
      defer(() => wss.close());
      const app = await start([{ name: 'web', stacks: { blue: { targets: [upstream.address] } } }]);
      const port = app.port('https');
      const ws = new WebSocket(`wss://127.0.0.1:${port}/`, { rejectUnauthorized: false, headers: { host: 'localhost' } });
      defer(() => ws.terminate());
      const echo = await new Promise<string>((resolve, reject) => {
        ws.once('open', () => ws.send('hi'));
        ws.once('message', (m) => resolve(String(m)));
        ws.once('error', reject);
      });
      expect(echo).toBe('echo hi');
      const session = await h2Session(port);
      expect(session.remoteSettings.enableConnectProtocol).toBe(false);
    });
  });

  describe('HTTP/1.1 on the same listener', () => {
    /** Writes `bytes` on a TLS connection that offers no ALPN; resolves with all it reads until the server closes. */
    const exchange = (port: number, bytes: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => socket.write(bytes));
        let text = '';
        socket.setEncoding('latin1');
        socket.on('data', (c: string) => (text += c));
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
        defer(() => socket.destroy());
      });

    it('keeps its limits: Host required, max_header_size (431), header_timeout, keepalive_timeout', async () => {
      const { services } = await startBlueGreen();
      const app = await start(services, {}, { limits: { max_header_size: 2048, header_timeout: '400ms', keepalive_timeout: '300ms' } });
      const port = app.port('https');
      expect(await exchange(port, 'GET / HTTP/1.1\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
      expect(await exchange(port, `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'y'.repeat(4000)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431 /);
      // A head never finished: answered 408 and closed at header_timeout (Node's own default is 60 s).
      expect(await exchange(port, 'GET / HTTP/1.1\r\nHost: a\r\n')).toMatch(/^HTTP\/1\.1 408 /);
      // A finished exchange: the idle keep-alive connection is closed at keepalive_timeout.
      const reply = await exchange(port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n');
      expect(reply).toMatch(/^HTTP\/1\.1 200 /);
      expect(reply).toContain('blue');
    });
  });

  describe('requests over h2', () => {
    it('are routed by :authority and forwarded as HTTP/1.1 with Host, X-Forwarded-*, and no pseudo-header or connection-specific field', async () => {
      const api = await startUpstream('api');
      const www = await startUpstream('www');
      const app = await start([
        { name: 'api', hosts: ['api.test'], stacks: { blue: { targets: [api.address] } } },
        { name: 'www', hosts: ['www.test'], stacks: { blue: { targets: [www.address] } } },
      ]);
      const port = app.port('https');
      const session = await h2Session(port);
      const a = await h2Request(session, { ':authority': 'api.test', ':path': '/v1?q=1', cookie: 'a=1', 'x-forwarded-for': '203.0.113.9' });
      const b = await h2Request(session, { ':authority': 'www.test:443', ':path': '/' });
      expect([a.body, b.body]).toEqual(['api', 'www']);
      const seen = api.requests[0] as IncomingMessage;
      expect(seen.url).toBe('/v1?q=1');
      expect(seen.httpVersion).toBe('1.1');
      expect(seen.headers.host).toBe('api.test');
      expect(seen.headers['x-forwarded-proto']).toBe('https');
      expect(seen.headers['x-forwarded-host']).toBe('api.test');
      expect(seen.headers['x-forwarded-port']).toBe(String(port));
      expect(seen.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
      const names = namesOf(seen);
      expect(names.filter((n) => n.startsWith(':'))).toEqual([]);
      expect(names.filter((n) => n === 'host')).toEqual(['host']);
      expect(names).not.toContain('te');
      expect((www.requests[0] as IncomingMessage).headers.host).toBe('www.test:443');
    });

    it('joins split Cookie fields into one for the upstream (RFC 9113 §8.2.3)', async () => {
      const upstream = await startUpstream('ok');
      const app = await start([{ name: 'web', stacks: { blue: { targets: [upstream.address] } } }]);
      const session = await h2Session(app.port('https'));
      await h2Request(session, { cookie: ['a=1', 'b=2'] });
      const seen = upstream.requests[0] as IncomingMessage;
      expect(namesOf(seen).filter((n) => n === 'cookie')).toEqual(['cookie']);
      expect(seen.headers.cookie).toBe('a=1; b=2');
    });

    it('treats a Host that names another origin than :authority as malformed (400, never forwarded), an equivalent one as fine', async () => {
      const upstream = await startUpstream('ok');
      const app = await start([{ name: 'web', stacks: { blue: { targets: [upstream.address] } } }]);
      const session = await h2Session(app.port('https'));
      const bad = await h2Request(session, { ':authority': 'a.test', host: 'b.test' });
      expect(bad.status).toBe(400);
      expect(JSON.parse(bad.body)).toMatchObject({ error: { code: 'BAD_REQUEST' } });
      expect(upstream.requests).toHaveLength(0);
      // Scheme-based normalization (RFC 3986 §6.2.3): case and the default port do not make another origin.
      const same = await h2Request(session, { ':authority': 'A.test', host: 'a.test:443' });
      expect(same.status).toBe(200);
      expect(upstream.requests.map((r) => r.headers.host)).toEqual(['A.test']);
      // Host alone (no :authority) is the authority.
      await h2Request(session, { host: 'c.test' });
      expect(upstream.requests.map((r) => r.headers.host)).toEqual(['A.test', 'c.test']);
    });

    it('passes the upstream response back without connection-specific fields or status message, first of a repeated single-value field, and trailers', async () => {
      const warnings: string[] = [];
      const onWarning = (w: Error) => warnings.push(w.message);
      process.on('warning', onWarning);
      defer(() => process.off('warning', onWarning));
      const upstream = await startUpstream('', (req, res) => {
        if (req.url === '/trailers') {
          res.writeHead(200, 'Fine', { 'content-type': 'text/plain', trailer: 'x-checksum' });
          res.write('part');
          res.addTrailers({ 'x-checksum': 'abc' });
          res.end();
          return;
        }
        // Raw: duplicate Content-Type, hop-by-hop fields, an odd reason phrase (then the connection
        // ends: Node's server would keep it waiting for its own response).
        res.socket?.end(
          'HTTP/1.1 201 Very Created\r\nContent-Type: text/plain\r\nContent-Type: text/html\r\nConnection: keep-alive, x-hop\r\nKeep-Alive: timeout=5\r\nX-Hop: 1\r\nProxy-Connection: keep-alive\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
        );
      });
      const app = await start([{ name: 'web', stacks: { blue: { targets: [upstream.address] } } }], { hsts_max_age: 600 });
      const session = await h2Session(app.port('https'));
      const reply = await h2Request(session, { ':path': '/raw' });
      expect(reply.status).toBe(201);
      expect(reply.body).toBe('hello');
      expect(reply.headers['content-type']).toBe('text/plain');
      expect(reply.headers['set-cookie']).toEqual(['a=1', 'b=2']);
      expect(reply.headers['strict-transport-security']).toBe('max-age=600');
      for (const name of ['connection', 'keep-alive', 'x-hop', 'proxy-connection', 'transfer-encoding']) expect(reply.headers[name]).toBeUndefined();
      const withTrailers = await h2Request(session, { ':path': '/trailers', te: 'trailers' });
      expect(withTrailers.body).toBe('part');
      expect(withTrailers.trailers?.['x-checksum']).toBe('abc');
      expect(warnings.filter((w) => /status message/i.test(w))).toEqual([]);
    });

    it('forwards POST bodies: with a length, without one (framed for HTTP/1.1), and one longer than request_buffer (streamed chunked)', async () => {
      const upstream = await startUpstream('', (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const framing = req.headers['content-length'] !== undefined ? `length ${req.headers['content-length']}` : `te ${req.headers['transfer-encoding']}`;
          res.end(`${framing}: ${Buffer.concat(chunks).length}`);
        });
      });
      const app = await start([{ name: 'web', stacks: { blue: { targets: [upstream.address] } } }], {}, { limits: { request_buffer: 1024 } });
      const session = await h2Session(app.port('https'));
      const post = { ':method': 'POST' };
      expect((await h2Request(session, { ...post, 'content-length': '5' }, 'hello')).body).toBe('length 5: 5');
      // No content-length: HTTP/2 ends the body with the stream; read whole, it goes with a length.
      expect((await h2Request(session, post, ['abc', 'def'])).body).toBe('length 6: 6');
      const big = Buffer.alloc(100_000, 'x');
      expect((await h2Request(session, post, [big.subarray(0, 50_000), big.subarray(50_000)])).body).toBe('te chunked: 100000');
      // An empty body (HEADERS without END_STREAM, then an empty DATA with it).
      expect((await h2Request(session, post, '')).body).toBe('length 0: 0');
    });

    it('answers HEAD without a body, streams a large body whole, and maps an upstream timeout to 504', async () => {
      const large = Buffer.alloc(3 << 20, 'z');
      const upstream = await startUpstream('', (req, res) => {
        if (req.url === '/slow') return; // never answers
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': large.length });
        res.end(req.method === 'HEAD' ? undefined : large);
      });
      const app = await start([{ name: 'web', response_timeout: 300, stacks: { blue: { targets: [upstream.address] } } }]);
      const session = await h2Session(app.port('https'));
      const head = await h2Request(session, { ':method': 'HEAD' });
      expect({ status: head.status, length: head.headers['content-length'], body: head.body }).toEqual({ status: 200, length: String(large.length), body: '' });
      const whole = await h2Request(session, { ':path': '/large' });
      expect(whole.body.length).toBe(large.length);
      const slow = await h2Request(session, { ':path': '/slow' });
      expect(slow.status).toBe(504);
      expect(JSON.parse(slow.body)).toMatchObject({ error: { code: 'UPSTREAM_TIMEOUT' } });
    });

    it.skipIf(!curlHasHttp2)('serves curl --http2', async () => {
      const { services } = await startBlueGreen();
      const app = await start(services);
      const out = await new Promise<string>((resolve, reject) =>
        execFile('curl', ['--http2', '-sk', '-w', ' %{http_version}', `https://127.0.0.1:${app.port('https')}/`], (err, stdout) =>
          err ? reject(err) : resolve(stdout),
        ),
      );
      expect(out).toBe('blue 2');
    });

    it('answers OPTIONS * and refuses CONNECT with 405, as on HTTP/1.1', async () => {
      const upstream = await startUpstream('ok');
      const app = await start([{ name: 'web', stacks: { blue: { targets: [upstream.address] } } }]);
      const session = await h2Session(app.port('https'));
      const options = await h2Request(session, { ':method': 'OPTIONS', ':path': '*' });
      expect(options.status).toBe(200);
      expect(options.headers.allow).toContain('GET');
      const connect = await h2Request(session, { ':method': 'CONNECT', ':authority': 'elsewhere.test:443' });
      expect(connect.status).toBe(405);
      expect(connect.headers.allow).toContain('GET');
      expect(upstream.requests).toHaveLength(0);
    });
  });

  describe('blue-green over one h2 connection', () => {
    it('sends the next stream to the new stack after a switch; sticky cookies pin a client while weights are split', async () => {
      const { services } = await startBlueGreen({ sticky: 'cookie' });
      const app = await start(services);
      const session = await h2Session(app.port('https'));
      let closed = false;
      session.once('close', () => (closed = true));
      expect((await h2Request(session)).body).toBe('blue');
      await app.controller.switchTo('web', 'green');
      expect((await h2Request(session)).body).toBe('green');
      await app.controller.setWeights('web', { blue: 50, green: 50 });
      const first = await h2Request(session);
      const cookie = String(first.headers['set-cookie']).split(';')[0] as string;
      expect(cookie).toMatch(/=(blue|green)$/);
      for (let i = 0; i < 10; i++) {
        const pinned = await h2Request(session, { cookie });
        expect(pinned.body).toBe(first.body);
        expect(pinned.headers['set-cookie']).toBeUndefined();
      }
      // All of it on the one connection.
      expect(closed).toBe(false);
    });

    it('counts h2 responses in the same metrics as HTTP/1.1 ones', async () => {
      const { services } = await startBlueGreen();
      const app = await start(services);
      const session = await h2Session(app.port('https'));
      for (let i = 0; i < 3; i++) await h2Request(session);
      await https1(app.port('https'));
      const text = await (await fetch(`${app.adminUrl}/metrics`)).text();
      expect(text).toContain('switchyard_requests_total{service="web",stack="blue",code="200"} 4');
      expect(text).toContain('switchyard_request_duration_seconds_count{service="web",stack="blue"} 4');
    });
  });
});
