import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { attachEventStream } from '../../src/admin/routes/events.js';
import { DASHBOARD_CSP } from '../../src/admin/routes/ui.js';
import { bearerFromProtocols, chooseProtocol } from '../../src/admin/ws-auth.js';
import type { Switchyard } from '../../src/app.js';
import type { FiguresEvent, FiguresFeed } from '../../src/metrics/figures.js';
import { EventBus } from '../../src/events/bus.js';
import { rawHttp } from '../helpers/raw-http.js';
import { startSwitchyard } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/** The routes under test need the built page (`npm run build`; `npm test` builds first). */

const TOKEN = 'ui-route-token-93ab';
const TOKEN_ENV = 'SWITCHYARD_UI_ROUTE_TOKEN';
const b64 = (text: string) => Buffer.from(text).toString('base64url');

/** A WebSocket handshake on a raw socket: the answer's head, as sent. */
function handshake(port: number, path: string, headers: string[] = []): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('connect', () =>
      socket.write(
        [
          `GET ${path} HTTP/1.1`,
          `Host: 127.0.0.1:${port}`,
          'Connection: Upgrade',
          'Upgrade: websocket',
          'Sec-WebSocket-Version: 13',
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
          ...headers,
          '\r\n',
        ].join('\r\n'),
      ),
    );
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!text.includes('\r\n\r\n')) return;
      socket.destroy();
      resolve(text.slice(0, text.indexOf('\r\n\r\n')));
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text));
  });
}

describe('bearerFromProtocols', () => {
  it('decodes the base64url token of the bearer entry into an Authorization value', () => {
    expect(bearerFromProtocols(`switchyard.v1, bearer.${b64('s3cret/+=é')}`)).toBe('Bearer s3cret/+=é');
    expect(bearerFromProtocols(`bearer.${b64('t')},switchyard.v1`)).toBe('Bearer t');
  });

  it('gives nothing without a bearer entry and a value no token matches for a malformed one', () => {
    expect(bearerFromProtocols(undefined)).toBeUndefined();
    expect(bearerFromProtocols('switchyard.v1')).toBeUndefined();
    expect(bearerFromProtocols('bearer.')).toBe('Bearer ');
    expect(bearerFromProtocols('bearer.abc=')).toBe('Bearer ');
    expect(bearerFromProtocols('bearer.a!b')).toBe('Bearer ');
  });
});

describe('chooseProtocol', () => {
  it('selects switchyard.v1 and never the entry carrying the token', () => {
    expect(chooseProtocol(new Set([`bearer.${b64('t')}`, 'switchyard.v1']))).toBe('switchyard.v1');
    expect(chooseProtocol(new Set([`bearer.${b64('t')}`]))).toBe(false);
  });
});

describe('the dashboard routes', () => {
  let app: Switchyard;
  let upstream: Upstream;
  let origin: string;
  let port: number;

  beforeAll(async () => {
    process.env[TOKEN_ENV] = TOKEN;
    upstream = await startUpstream('blue');
    app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [upstream.address] } } }], {
      admin: { listen: '127.0.0.1:0', token_env: TOKEN_ENV },
    });
    origin = app.adminUrl;
    port = Number(new URL(origin).port);
  });
  afterAll(async () => {
    delete process.env[TOKEN_ENV];
    await app?.stop(0);
    await upstream?.close();
  });

  it('serves the page without the token, with the strict CSP and no framing', async () => {
    for (const path of ['/ui/', '/ui', '/ui/index.html']) {
      const response = await fetch(`${origin}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await response.text()).toContain('<script type="module" src="/ui/main.js"></script>');
    }
    expect(DASHBOARD_CSP).toContain("default-src 'self'");
    expect(DASHBOARD_CSP).toContain("frame-ancestors 'none'");
    expect(DASHBOARD_CSP).not.toContain('unsafe');
    expect((await fetch(`${origin}/ui/main.js`)).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await fetch(`${origin}/ui/app.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('serves nothing but the page files', async () => {
    for (const path of ['/ui/nope.js', '/ui/..%2fpackage.json', '/ui/%2e%2e/package.json', '/ui/../package.json', '/ui/sub/main.js', '/ui/.hidden.js']) {
      // Raw, so the client does not resolve the dot segments first; 401 is the router having resolved them (no route).
      const answer = await rawHttp(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
      expect(answer, path).toMatch(/^HTTP\/1\.1 (401|404) /);
    }
  });

  it('refuses the page to a foreign Host (the loopback guard applies)', async () => {
    const answer = await rawHttp(port, 'GET /ui/ HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 403 /);
    const response = await fetch(`${origin}/ui/`, { headers: { origin: 'http://evil.example' } });
    expect(response.status).toBe(403);
  });

  it('keeps /v1/figures behind the token', async () => {
    expect((await fetch(`${origin}/v1/figures`)).status).toBe(401);
    const response = await fetch(`${origin}/v1/figures`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ enabled: true, interval_ms: 2000, window_ms: 10_000 });
  });

  it('opens the event stream with the token as a subprotocol, answering only switchyard.v1', async () => {
    // The token entry first: ws on its own would select the first protocol offered, echoing the token.
    const head = await handshake(port, '/v1/events', [`Sec-WebSocket-Protocol: bearer.${b64(TOKEN)}, switchyard.v1`]);
    expect(head).toMatch(/^HTTP\/1\.1 101/);
    expect(head).toMatch(/\r\nSec-WebSocket-Protocol: switchyard\.v1(\r\n|$)/i);
    expect(head).not.toContain(b64(TOKEN));
    // The ws client agrees: it checks the selected subprotocol was one it offered.
    const ws = new WebSocket(`${origin.replace('http', 'ws')}/v1/events`, ['switchyard.v1', `bearer.${b64(TOKEN)}`]);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    expect(ws.protocol).toBe('switchyard.v1');
    ws.close();
  });

  it('refuses a wrong or malformed token in the subprotocol', async () => {
    for (const entry of [`bearer.${b64('wrong')}`, 'bearer.', 'bearer.!!', `bearer.${b64(`${TOKEN}x`)}`]) {
      expect(await handshake(port, '/v1/events', [`Sec-WebSocket-Protocol: switchyard.v1, ${entry}`]), entry).toMatch(/^HTTP\/1\.1 401/);
    }
    expect(await handshake(port, '/v1/events', ['Sec-WebSocket-Protocol: switchyard.v1'])).toMatch(/^HTTP\/1\.1 401/);
  });
});

describe('figures on the event stream', () => {
  let server: Server;
  let close: () => void;
  const listeners = new Set<(event: FiguresEvent) => void>();
  const feed: FiguresFeed = {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  const bus = new EventBus();

  afterEach(async () => {
    close?.();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('sends figures only to clients that ask with ?figures=1, and stops following when they leave', async () => {
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    close = attachEventStream({ server, events: bus, token: undefined, loopback: true, figures: feed });
    const base = `ws://127.0.0.1:${(server.address() as { port: number }).port}/v1/events`;
    const open = async (url: string) => {
      const ws = new WebSocket(url, ['switchyard.v1']);
      const messages: { type: string }[] = [];
      ws.on('message', (m) => messages.push(JSON.parse(m.toString()) as { type: string }));
      await new Promise((resolve) => ws.once('open', resolve));
      return { ws, messages };
    };
    const plain = await open(base);
    const dashboard = await open(`${base}?figures=1`);
    expect(listeners.size).toBe(1);
    for (const listener of listeners) listener({ type: 'figures', window_ms: 10_000, time: new Date().toISOString(), services: {} });
    bus.publish({ type: 'reload', time: new Date().toISOString(), generation: 2 });
    await expect.poll(() => plain.messages.length).toBe(1);
    await expect.poll(() => dashboard.messages.map((m) => m.type)).toEqual(['figures', 'reload']);
    expect(plain.messages[0]?.type).toBe('reload');
    dashboard.ws.close();
    await expect.poll(() => listeners.size).toBe(0);
    plain.ws.close();
  });
});
