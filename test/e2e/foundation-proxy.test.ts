import { Agent, request } from 'node:http';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { Switchyard } from '../../src/app.js';
import { startSwitchyard, tempDir, waitFor } from '../helpers/switchyard.js';
import { get } from '../helpers/http.js';
import { rawHttp } from '../helpers/raw-http.js';
import { startBlueGreen, startUpstream } from '../helpers/upstream.js';

function admin(app: Switchyard, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(app.adminUrl + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

let app: Switchyard | undefined;

async function blueGreen(extraService: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  const { blue, green, services } = await startBlueGreen({ active: 'blue', ...extraService });
  app = await startSwitchyard(services, extra);
  return { app, blue, green, port: app.port('http') };
}

describe('proxy', () => {
  it('routes by exact host, leading wildcard and default service; 404 when nothing matches', async () => {
    const a = await startUpstream('a');
    const b = await startUpstream('b');
    app = await startSwitchyard([
      { name: 'a', hosts: ['a.example.com'], stacks: { blue: { targets: [a.address] } } },
      { name: 'b', hosts: ['*.b.example.com'], stacks: { blue: { targets: [b.address] } } },
    ]);
    const port = app.port('http');
    expect((await get(port, { headers: { host: 'a.example.com:80' } })).body).toBe('a');
    expect((await get(port, { headers: { host: 'x.y.b.example.com' } })).body).toBe('b');
    const miss = await get(port, { headers: { host: 'nope.example.com' } });
    expect(miss.status).toBe(404);
    expect(JSON.parse(miss.body).error.code).toBe('NO_ROUTE');
  });

  it('round-robins over the targets of the active stack', async () => {
    const one = await startUpstream('one');
    const two = await startUpstream('two');
    app = await startSwitchyard([{ name: 'rr', stacks: { blue: { targets: [one.address, two.address] } } }]);
    const bodies = [];
    for (let i = 0; i < 4; i++) bodies.push((await get(app.port('http'))).body);
    expect(bodies.sort()).toEqual(['one', 'one', 'two', 'two']);
  });

  it('sets forwarding headers, keeps Host and strips hop-by-hop headers both ways', async () => {
    const up = await startUpstream('', (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-secret-hop': 'x', connection: 'x-secret-hop' });
      res.end(JSON.stringify(req.headers));
    });
    app = await startSwitchyard([{ name: 'h', stacks: { blue: { targets: [up.address] } } }]);
    const reply = await get(app.port('http'), {
      headers: {
        host: 'shop.example',
        'x-forwarded-for': '10.1.1.1',
        connection: 'x-drop-me',
        'x-drop-me': '1',
        'proxy-authorization': 'secret',
      },
    });
    const seen = JSON.parse(reply.body) as Record<string, string>;
    expect(seen.host).toBe('shop.example');
    expect(seen['x-forwarded-for']).toBe('10.1.1.1, 127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-host']).toBe('shop.example');
    expect(seen['x-forwarded-port']).toBe(String(app.port('http')));
    expect(seen['x-drop-me']).toBeUndefined();
    expect(seen['proxy-authorization']).toBeUndefined();
    expect(reply.headers['x-secret-hop']).toBeUndefined();
  });

  it('sends the very next request on an open keep-alive connection to the new stack after a switch', async () => {
    const { port } = await blueGreen();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const first = await get(port, { agent });
    expect(first.body).toBe('blue');
    const switched = await admin(app!, 'POST', '/v1/services/web/switch', { to: 'green' });
    expect(switched.status).toBe(200);
    const second = await get(port, { agent });
    expect(second.body).toBe('green');
    expect(second.localPort).toBe(first.localPort);
    agent.destroy();
  });

  it('lets an in-flight request finish on the stack that took it', async () => {
    let release: () => void = () => undefined;
    const slow = await startUpstream('', (_req, res) => {
      release = () => res.end('slow blue');
    });
    const green = await startUpstream('green');
    app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [slow.address] }, green: { targets: [green.address] } } }]);
    const pending = get(app.port('http'));
    await waitFor(() => slow.requests.length === 1);
    expect((await admin(app, 'POST', '/v1/services/web/switch', { to: 'green' })).status).toBe(200);
    release();
    expect((await pending).body).toBe('slow blue');
    expect((await get(app.port('http'))).body).toBe('green');
  });

  it('splits 200 requests about evenly at 50/50', async () => {
    const { port } = await blueGreen();
    expect((await admin(app!, 'PUT', '/v1/services/web/weights', { weights: { blue: 50, green: 50 } })).status).toBe(200);
    const counts: Record<string, number> = { blue: 0, green: 0 };
    for (let i = 0; i < 200; i++) counts[(await get(port)).body]! += 1;
    expect(counts.blue).toBeGreaterThan(60);
    expect(counts.green).toBeGreaterThan(60);
  });

  it('keeps a client with the sticky cookie on its stack while weights are split', async () => {
    const { port } = await blueGreen({ sticky: 'cookie' });
    await admin(app!, 'PUT', '/v1/services/web/weights', { weights: { blue: 50, green: 50 } });
    const first = await get(port);
    const cookie = String(first.headers['set-cookie']).split(';')[0]!;
    expect(cookie).toBe(`switchyard.web=${first.body}`);
    for (let i = 0; i < 20; i++) expect((await get(port, { headers: { cookie } })).body).toBe(first.body);
  });

  it('retries a refused connection on another target, and answers 502 when all are down', async () => {
    const up = await startUpstream('alive');
    const dead = await startUpstream('dead');
    await dead.close();
    app = await startSwitchyard([
      { name: 'r', paths: ['/r'], stacks: { blue: { targets: [dead.address, up.address] } } },
      { name: 'd', paths: ['/d'], stacks: { blue: { targets: [dead.address] } } },
    ]);
    for (let i = 0; i < 4; i++) expect((await get(app.port('http'), { path: '/r' })).body).toBe('alive');
    const down = await get(app.port('http'), { path: '/d' });
    expect(down.status).toBe(502);
    expect(JSON.parse(down.body).error.code).toBe('UPSTREAM_FAILED');
  });

  it('answers 504 when the upstream is silent past response_timeout', async () => {
    const hung = await startUpstream('', () => undefined);
    app = await startSwitchyard([{ name: 't', response_timeout: 200, stacks: { blue: { targets: [hung.address] } } }]);
    expect((await get(app.port('http'))).status).toBe(504);
  });

  it('refuses two Host lines with 400 without forwarding', async () => {
    const { port, blue } = await blueGreen();
    const raw = await rawHttp(port, 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n');
    expect(raw.startsWith('HTTP/1.1 400')).toBe(true);
    expect(blue.requests).toHaveLength(0);
  });

  it('answers 431 to 70 KB of headers', async () => {
    const { port, blue } = await blueGreen();
    const raw = await rawHttp(port, `GET / HTTP/1.1\r\nHost: web\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`);
    expect(raw.startsWith('HTTP/1.1 431')).toBe(true);
    expect(blue.requests).toHaveLength(0);
  });

  it('refuses an h2c upgrade with 400 without forwarding', async () => {
    const { port, blue } = await blueGreen();
    const raw = await rawHttp(
      port,
      'GET / HTTP/1.1\r\nHost: web\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n',
    );
    expect(raw.startsWith('HTTP/1.1 400')).toBe(true);
    expect(blue.requests).toHaveLength(0);
  });

  it('supports Expect: 100-continue', async () => {
    const up = await startUpstream('', (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => res.end(`got ${body}`));
    });
    app = await startSwitchyard([{ name: 'c', stacks: { blue: { targets: [up.address] } } }]);
    const reply = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: app!.port('http'), method: 'POST', headers: { expect: '100-continue', 'content-length': 5 } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      });
      req.on('continue', () => req.end('hello'));
      req.on('error', reject);
    });
    expect(reply).toBe('got hello');
  });

  it('proxies WebSockets, keeps them open across a switch, and drains them with 1001 when websocket_drain is set', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss.once('listening', r));
    wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo ${m.toString()}`)));
    const green = await startUpstream('green');
    const address = `127.0.0.1:${(wss.address() as { port: number }).port}`;
    app = await startSwitchyard([{ name: 'ws', websocket_drain: 300, stacks: { blue: { targets: [address] }, green: { targets: [green.address] } } }]);
    const client = new WebSocket(`ws://127.0.0.1:${app.port('http')}/`);
    await new Promise((r) => client.once('open', r));
    client.send('hi');
    expect(String(await new Promise((r) => client.once('message', r)))).toBe('echo hi');
    const closed = new Promise<number>((r) => client.once('close', (code) => r(code)));
    await admin(app, 'POST', '/v1/services/ws/switch', { to: 'green' });
    client.send('still');
    expect(String(await new Promise((r) => client.once('message', r)))).toBe('echo still');
    expect(await closed).toBe(1001);
    wss.close();
  });

  it('serves the standby stack on a route_to: standby listener', async () => {
    const { app: started } = await blueGreen(
      {},
      {
        listeners: [
          { name: 'http', port: 0, address: '127.0.0.1' },
          { name: 'preview', port: 0, address: '127.0.0.1', route_to: 'standby' },
        ],
      },
    );
    expect((await get(started.port('http'))).body).toBe('blue');
    expect((await get(started.port('preview'))).body).toBe('green');
  });
});

describe('state', () => {
  it('keeps the switch across a restart', async () => {
    const dir = tempDir();
    const { services } = await startBlueGreen();
    app = await startSwitchyard(services, {}, dir);
    await admin(app, 'POST', '/v1/services/web/switch', { to: 'green' });
    await app.stop(0);
    app = await startSwitchyard(services, {}, dir);
    expect((await get(app.port('http'))).body).toBe('green');
    const history = (await (await admin(app, 'GET', '/v1/services/web/history')).json()) as { history: { to: Record<string, number> }[] };
    expect(history.history.at(-1)?.to).toEqual({ blue: 0, green: 100 });
  });
});
