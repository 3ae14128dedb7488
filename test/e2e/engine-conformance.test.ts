import { createServer, request, Agent, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, connect, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { freePort } from '../helpers/child-switchyard.js';
import { defer } from '../helpers/cleanup.js';
import { get, type RequestOptions } from '../helpers/http.js';
import { startSwitchyard, waitFor } from '../helpers/switchyard.js';

/** Conformance of the forwarding engine (raw keep-alive sockets + Node's llhttp) on real sockets. */

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  body: Buffer;
}

async function listen(server: Server | NetServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  defer(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

async function httpUpstream(handler: (req: IncomingMessage, res: ServerResponse) => void, tune?: (s: Server) => void): Promise<number> {
  const server = createServer(handler);
  tune?.(server);
  return listen(server);
}

async function netUpstream(onSocket: (s: Socket) => void): Promise<number> {
  return listen(createNetServer(onSocket));
}

/** The shared `get` with Host `svc` by default, the body as bytes. */
async function send(port: number, options: RequestOptions = {}): Promise<Reply> {
  const reply = await get(port, { ...options, headers: { host: 'svc', ...options.headers } });
  return { ...reply, body: reply.bytes };
}

describe('forwarding engine', () => {
  async function proxy(ports: number[], upstream: Record<string, unknown> = {}, limits: Record<string, unknown> = {}): Promise<number> {
    const app: Switchyard = await startSwitchyard(
      [
        {
          name: 'svc',
          hosts: ['svc'],
          stacks: { blue: { targets: ports.map((p) => `127.0.0.1:${p}`) }, green: { targets: ports.map((p) => `127.0.0.1:${p}`) } },
        },
      ],
      { upstream, limits },
    );
    return app.port('http');
  }

  it('forwards headers: X-Forwarded-*, Host kept, hop-by-hop dropped both ways', async () => {
    let seen: IncomingMessage['headers'] = {};
    const up = await httpUpstream((req, res) => {
      seen = req.headers;
      res.writeHead(200, { 'x-up': '1', connection: 'keep-alive, x-hop-res', 'x-hop-res': 'gone', 'keep-alive': 'timeout=77', 'content-length': '2' });
      res.end('ok');
    });
    const port = await proxy([up]);
    const reply = await send(port, {
      headers: { connection: 'x-hop-req', 'x-hop-req': 'gone', 'x-keep': 'yes', 'x-forwarded-for': '10.0.0.1', te: 'trailers' },
    });
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe('ok');
    expect(seen.host).toBe('svc');
    expect(seen['x-keep']).toBe('yes');
    expect(seen['x-hop-req']).toBeUndefined();
    expect(seen.te).toBeUndefined();
    expect(seen['x-forwarded-for']).toBe('10.0.0.1, 127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-host']).toBe('svc');
    expect(seen['x-forwarded-port']).toBe(String(port));
    expect(reply.headers['x-up']).toBe('1');
    expect(reply.headers['x-hop-res']).toBeUndefined();
    expect(reply.headers['keep-alive']).not.toBe('timeout=77');
  });

  function echoFraming(): Promise<number> {
    return httpUpstream((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(200, { 'x-te': req.headers['transfer-encoding'] ?? 'none', 'x-cl': req.headers['content-length'] ?? 'none' });
        res.write('echo:');
        res.write(Buffer.concat(chunks));
        res.end(':done');
      });
    });
  }

  it('forwards a chunked request body read whole with a Content-Length, and streams a chunked response', async () => {
    const port = await proxy([await echoFraming()]);
    const reply = await send(port, { method: 'POST', headers: { 'transfer-encoding': 'chunked' }, body: ['abc', 'def', 'ghi'] });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-te']).toBe('none');
    expect(reply.headers['x-cl']).toBe('9');
    expect(reply.headers['transfer-encoding']).toBe('chunked');
    expect(reply.body.toString()).toBe('echo:abcdefghi:done');
  });

  it('streams a chunked request body longer than limits.request_buffer chunk-encoded, buffered start included', async () => {
    const port = await proxy([await echoFraming()], {}, { request_buffer: 1024 });
    const parts = [Buffer.alloc(700, 'a'), Buffer.alloc(700, 'b'), Buffer.alloc(3000, 'c')];
    const reply = await send(port, { method: 'POST', headers: { 'transfer-encoding': 'chunked' }, body: parts });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-te']).toBe('chunked');
    expect(reply.body.toString()).toBe(`echo:${Buffer.concat(parts).toString()}:done`);
  });

  it('carries 1 MB bodies both ways', async () => {
    const big = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const up = await httpUpstream((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const got = Buffer.concat(chunks);
        res.writeHead(200, { 'content-length': String(got.length * 2) });
        res.write(got);
        res.end(got);
      });
    });
    // Also past a small read-ahead buffer: its start is sent, then the rest streams.
    const port = await proxy([up], {}, { request_buffer: 4096 });
    const reply = await send(port, { method: 'PUT', headers: { 'content-length': String(big.length) }, body: big });
    expect(reply.status).toBe(200);
    expect(reply.body.length).toBe(2 * big.length);
    expect(reply.body.subarray(0, big.length).equals(big)).toBe(true);
    expect(reply.body.subarray(big.length).equals(big)).toBe(true);
  });

  it('answers HEAD, 204 and 304 without a body and keeps the connection usable', async () => {
    const up = await httpUpstream((req, res) => {
      if (req.url === '/204') res.writeHead(204).end();
      else if (req.url === '/304') res.writeHead(304, { etag: '"x"' }).end();
      else res.writeHead(200, { 'content-length': '5' }).end(req.method === 'HEAD' ? undefined : 'hello');
    });
    const port = await proxy([up]);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    defer(() => agent.destroy());
    const head = await send(port, { method: 'HEAD', agent });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('5');
    expect(head.body.length).toBe(0);
    const noContent = await send(port, { path: '/204', agent });
    expect(noContent.status).toBe(204);
    expect(noContent.body.length).toBe(0);
    const notModified = await send(port, { path: '/304', agent });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.etag).toBe('"x"');
    const after = await send(port, { agent });
    expect(after.body.toString()).toBe('hello');
  });

  it('handles Expect: 100-continue', async () => {
    const up = await httpUpstream((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(`got ${Buffer.concat(chunks).toString()}`));
    });
    const port = await proxy([up]);
    const reply = await new Promise<Reply>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method: 'POST', path: '/', agent: false, headers: { host: 'svc', expect: '100-continue', 'content-length': '4' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
        },
      );
      req.on('continue', () => req.end('data'));
      req.on('error', reject);
    });
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe('got data');
  });

  it('skips an interim 100 Continue from the upstream and forwards the final response', async () => {
    const up = await netUpstream((s) => {
      s.once('data', () => s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes'));
    });
    const port = await proxy([up]);
    const reply = await send(port);
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe('yes');
  });

  it('retries a refused connection on a second target, even for POST', async () => {
    // a free port: nothing listens there
    const dead = await freePort();
    const up = await httpUpstream((req, res) => {
      req.resume();
      req.on('end', () => res.end('alive'));
    });
    const port = await proxy([dead, up]);
    for (let i = 0; i < 4; i++) {
      const reply = await send(port, { method: 'POST', headers: { 'content-length': '2' }, body: 'hi' });
      expect(reply.status).toBe(200);
      expect(reply.body.toString()).toBe('alive');
    }
  });

  it('survives an upstream that closes idle keep-alive sockets without saying so', async () => {
    let served = 0;
    let closed = 0;
    const up = await netUpstream((s) => {
      s.on('close', () => closed++);
      s.once('data', () => {
        served++;
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', () => setImmediate(() => s.destroy()));
      });
    });
    const port = await proxy([up]);
    for (let i = 0; i < 5; i++) {
      const reply = await send(port);
      expect(reply.status).toBe(200);
      expect(reply.body.toString()).toBe('ok');
      // The next request goes out once the upstream has closed this one's socket.
      await waitFor(() => closed >= served);
    }
    expect(served).toBeGreaterThanOrEqual(5);
  });

  it('answers 504 when the upstream stays silent', async () => {
    const up = await netUpstream(() => undefined);
    const port = await proxy([up], { response_timeout: '150ms' });
    const reply = await send(port);
    expect(reply.status).toBe(504);
  });

  it('answers 502 on broken framing and does not reuse the socket', async () => {
    let connections = 0;
    const up = await netUpstream((s) => {
      connections++;
      s.on('data', () => s.write('HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\nok'));
    });
    const port = await proxy([up]);
    expect((await send(port)).status).toBe(502);
    expect((await send(port)).status).toBe(502);
    expect(connections).toBe(2);
  });

  it('destroys the upstream socket when the client aborts', async () => {
    let upstreamClosed = false;
    let arrived!: () => void;
    const arrival = new Promise<void>((r) => (arrived = r));
    const up = await netUpstream((s) => {
      s.once('data', () => arrived());
      s.on('close', () => (upstreamClosed = true));
    });
    const port = await proxy([up]);
    const client = connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    client.write('GET /slow HTTP/1.1\r\nHost: svc\r\n\r\n');
    await arrival;
    client.destroy();
    await waitFor(() => upstreamClosed);
    expect(upstreamClosed).toBe(true);
  });

  it('serves 50 concurrent keep-alive clients with the right bodies', async () => {
    const up = await httpUpstream((req, res) => {
      const body = `body-for-${req.url ?? ''}`;
      res.writeHead(200, { 'content-length': String(body.length) });
      setTimeout(() => res.end(body), Math.floor(Math.random() * 3));
    });
    const port = await proxy([up]);
    const agent = new Agent({ keepAlive: true, maxSockets: 50 });
    defer(() => agent.destroy());
    const jobs: Promise<void>[] = [];
    for (let c = 0; c < 50; c++) {
      jobs.push(
        (async () => {
          for (let i = 0; i < 10; i++) {
            const path = `/c${c}/r${i}`;
            const reply = await send(port, { path, agent });
            expect(reply.status).toBe(200);
            expect(reply.body.toString()).toBe(`body-for-${path}`);
          }
        })(),
      );
    }
    await Promise.all(jobs);
  });

  it('holds requests beyond max_sockets until a connection frees up, never opening more', async () => {
    let open = 0;
    let most = 0;
    const up = await httpUpstream(
      (_req, res) => setTimeout(() => res.end('slow'), 100),
      (server) =>
        server.on('connection', (s: Socket) => {
          most = Math.max(most, ++open);
          s.on('close', () => open--);
        }),
    );
    const port = await proxy([up], { max_sockets: 2 });
    const replies = await Promise.all(Array.from({ length: 6 }, () => send(port)));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(most).toBe(2);
  });

  it('keeps an idle upstream socket no longer than its Keep-Alive: timeout= hint allows', async () => {
    let connections = 0;
    const up = await httpUpstream(
      (_req, res) => res.end('ok'),
      (s) => {
        s.keepAliveTimeout = 2000; // announced as "Keep-Alive: timeout=2"
        s.on('connection', () => connections++);
      },
    );
    const port = await proxy([up], { idle_timeout: '10s' });
    expect((await send(port)).status).toBe(200);
    expect((await send(port)).status).toBe(200);
    expect(connections).toBe(1);
    // Time passing is the point: past the hint minus the 1 s margin, but before the upstream's own close: a fresh connection.
    await new Promise((r) => setTimeout(r, 1300));
    expect((await send(port)).status).toBe(200);
    expect(connections).toBe(2);
  });

  it('forwards a pipelined request only after the one before it finished; other clients are served meanwhile', async () => {
    // Far more than loopback buffers take even once autotuned: a client reading nothing never gets all of it.
    const huge = Buffer.alloc(48 * 1024 * 1024, 'h');
    const seen: string[] = [];
    let hugeArrived!: () => void;
    const hugeArrival = new Promise<void>((r) => (hugeArrived = r));
    const up = await httpUpstream((req, res) => {
      seen.push(req.url ?? '');
      if (req.url === '/huge') hugeArrived();
      res.end(req.url === '/huge' ? huge : 'ok');
    });
    const port = await proxy([up]);
    // A slow reader pipelines a second request behind an answer it never reads: that
    // second request must not take an upstream connection (one request at a time per
    // connection, as nginx).
    const slow = connect(port, '127.0.0.1');
    slow.on('error', () => undefined);
    slow.pause();
    defer(() => void slow.destroy());
    slow.write('GET /huge HTTP/1.1\r\nHost: svc\r\n\r\nGET /big HTTP/1.1\r\nHost: svc\r\n\r\n');
    await hugeArrival;
    const started = Date.now();
    const reply = await send(port);
    expect(reply.body.toString()).toBe('ok');
    // A stalled connection never answers; a free one at once (loose: a loaded box may be slow).
    expect(Date.now() - started).toBeLessThan(5000);
    expect(seen).not.toContain('/big');
  });

  it('releases the upstream side of a pipelined exchange when the client leaves, and drops the ones waiting behind it', async () => {
    let arrived!: () => void;
    const arrival = new Promise<void>((r) => (arrived = r));
    let upstreamClosed = false;
    const seen: string[] = [];
    const up = await httpUpstream((req) => {
      seen.push(req.url ?? '');
      arrived(); // /hang: never answered
      req.socket.on('close', () => (upstreamClosed = true));
    });
    const port = await proxy([up]);
    const client = connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    client.pause();
    client.write('GET /hang HTTP/1.1\r\nHost: svc\r\n\r\nGET /next HTTP/1.1\r\nHost: svc\r\n\r\n');
    await arrival;
    client.destroy();
    await waitFor(() => upstreamClosed, 2000);
    expect(upstreamClosed).toBe(true);
    expect(seen).toEqual(['/hang']);
  });

  it('passes response trailers on, and never lets one leak into the next response on the connection', async () => {
    const up = await httpUpstream((req, res) => {
      if (req.url === '/with-trailer') {
        res.writeHead(200, { 'transfer-encoding': 'chunked', trailer: 'X-Checksum' });
        res.write('body');
        res.addTrailers({ 'X-Checksum': 'abc' });
        res.end();
      } else res.end('plain');
    });
    const port = await proxy([up]);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    defer(() => agent.destroy());
    const trailers = await new Promise<Record<string, string | undefined>>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/with-trailer', headers: { host: 'svc', te: 'trailers' }, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.trailers));
      });
      req.on('error', reject);
      req.end();
    });
    expect(trailers['x-checksum']).toBe('abc');
    const next = await send(port, { path: '/plain', agent });
    expect(next.body.toString()).toBe('plain');
    expect(next.headers['x-checksum']).toBeUndefined();
  });
});
