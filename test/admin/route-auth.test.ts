import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLIC_ROUTES } from '../../src/admin/app.js';
import type { Switchyard } from '../../src/app.js';
import { generateSelfSigned } from '../../src/tls/self-signed.js';
import { rawHttp } from '../helpers/raw-http.js';
import { startSwitchyard, tempDir, waitFor } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const TOKEN = 'route-auth-7d1e';
const TOKEN_ENV = 'SWITCHYARD_ROUTE_AUTH_TOKEN';

/** A route as fastify registered it. */
interface Route {
  method: string;
  url: string;
}

/**
 * Every (method, pattern) of the admin app, read from fastify's own route tree, so a route
 * added later is in the table without anyone remembering to add it.
 */
function registeredRoutes(app: FastifyInstance): Route[] {
  const routes: Route[] = [];
  const prefixes: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│ ]*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = (match[1] ?? '').length / 4;
    prefixes.length = depth;
    const url = (prefixes[depth - 1] ?? '') + match[2];
    prefixes[depth] = url;
    for (const method of match[3]?.split(', ') ?? []) routes.push({ method, url });
  }
  return routes;
}

const PARAMS: Record<string, string> = { service: 'web', stack: 'green', name: 'site' };

/** A concrete path for a route pattern: its parameters filled with things that exist. */
function concrete(pattern: string): string {
  return pattern.replace(/:(\w+)/g, (_m, name: string) => PARAMS[name] ?? 'x').replace('*', 'index.html');
}

function pct(char: string, upper = false): string {
  const hex = char.charCodeAt(0).toString(16).padStart(2, '0');
  return `%${upper ? hex.toUpperCase() : hex}`;
}

/** The request-targets tried for one path: the canonical one and ways to spell it differently. */
function spellings(path: string, port: number): [string, string][] {
  const first = path.split('/')[1] ?? '';
  const rest = path.slice(1 + first.length);
  const encodeAll = (upper: boolean) =>
    path
      .split('/')
      .map((segment) => [...segment].map((c) => pct(c, upper)).join(''))
      .join('/');
  const tail = path.slice(1);
  return [
    ['canonical', path],
    ['first character percent-encoded (/%761/…)', `/${pct(path[1] ?? '')}${path.slice(2)}`],
    ['first segment percent-encoded (/%76%31/…)', `/${[...first].map((c) => pct(c)).join('')}${rest}`],
    ['every character percent-encoded, lower-case hex', encodeAll(false)],
    ['every character percent-encoded, upper-case hex', encodeAll(true)],
    ['double percent-encoding', `/%25${pct(path[1] ?? '').slice(1)}${path.slice(2)}`],
    ['path upper-cased', path.toUpperCase()],
    ['first segment upper-cased', `/${first.toUpperCase()}${rest}`],
    ['leading double slash', `/${path}`],
    ['every slash doubled', path.replaceAll('/', '//')],
    ['trailing slash', `${path}/`],
    ['trailing double slash', `${path}//`],
    ['dot segment in front', `/.${path}`],
    ['dot segment at the end', `${path}/.`],
    ['dot-dot segment', `/x/..${path}`],
    ['percent-encoded dot segment', `/%2e${path}`],
    ['percent-encoded dot-dot segment', `/x/%2E%2E${path}`],
    ['slashes encoded as %2F', `/${tail.replaceAll('/', '%2F')}`],
    ['slashes encoded as %2f', `/${tail.replaceAll('/', '%2f')}`],
    ['backslashes', `/${tail.replaceAll('/', '\\')}`],
    ['overlong UTF-8 slashes', `/${tail.replaceAll('/', '%c0%af')}`],
    ['empty query', `${path}?`],
    ['query', `${path}?a=1`],
    ['matrix parameter', `${path};a=1`],
    ['fragment', `${path}#x`],
    ['encoded NUL at the end', `${path}%00`],
    ['absolute-form', `http://127.0.0.1:${port}${path}`],
    ['absolute-form naming another host', `http://admin.example${path}`],
    ['absolute-form, percent-encoded', `http://127.0.0.1:${port}/${pct(path[1] ?? '')}${path.slice(2)}`],
  ];
}

/** One request on its own connection; resolves with the status code (0 when none came). */
async function send(port: number, method: string, target: string, body: unknown, token?: string): Promise<number> {
  const payload = body === undefined ? '' : JSON.stringify(body);
  const head = [
    `${method} ${target} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Connection: close',
    ...(payload ? ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(payload)}`] : []),
    ...(token ? [`Authorization: Bearer ${token}`] : []),
  ];
  const response = await rawHttp(port, `${head.join('\r\n')}\r\n\r\n${payload}`);
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
}

/** Sends a WebSocket handshake and resolves with the status of the answer (101 when accepted). */
function handshakeStatus(port: number, target: string, token?: string): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('connect', () =>
      socket.write(
        [
          `GET ${target} HTTP/1.1`,
          `Host: 127.0.0.1:${port}`,
          'Connection: Upgrade',
          'Upgrade: websocket',
          'Sec-WebSocket-Version: 13',
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
          ...(token ? [`Authorization: Bearer ${token}`] : []),
          '\r\n',
        ].join('\r\n'),
      ),
    );
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!text.includes('\r\n')) return;
      socket.destroy();
      resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0));
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
  });
}

describe('admin authorization', () => {
  let app: Switchyard;
  let port: number;
  let dir: string;
  let upstreams: Upstream[];
  let bodies: Record<string, unknown>;

  beforeAll(async () => {
    upstreams = [await startUpstream('blue'), await startUpstream('green')];
    const [blue, green] = upstreams as [Upstream, Upstream];
    dir = tempDir();
    process.env[TOKEN_ENV] = TOKEN;
    app = await startSwitchyard(
      [{ name: 'web', stacks: { blue: { targets: [blue.address] }, green: { targets: [green.address] } } }],
      // An ACME directory nothing listens on: POST /v1/certificates/acme is accepted, its order fails in the background.
      { admin: { listen: '127.0.0.1:0', token_env: TOKEN_ENV }, acme: { directory: 'https://127.0.0.1:1/dir' } },
      dir,
    );
    port = Number(new URL(app.adminUrl).port);
    const site = await generateSelfSigned(['site.test']);
    await app.certificates.add('site', site.certPem, site.keyPem);
    // A finished rollout (blue → green), so `GET .../rollout` has one to show and nothing holds the weights.
    await app.rollouts.begin('web', { to: 'green', steps: [{ weight: 100 }] });
    await waitFor(() => app.rollouts.get('web').state === 'completed');
    const upload = await generateSelfSigned(['upload.test']);
    // Bodies that succeed with the token, so that a refusal without it means the guard refused.
    bodies = {
      'POST /v1/services/:service/switch': { to: 'green' },
      'PUT /v1/services/:service/weights': { weights: { blue: 50, green: 50 } },
      'POST /v1/services/:service/rollback': {},
      'PUT /v1/services/:service/stacks/:stack/targets': { targets: [green.address] },
      'POST /v1/certificates': { name: 'uploaded', cert: upload.certPem, key: upload.keyPem },
      'POST /v1/certificates/self-signed': { name: 'generated', hosts: ['generated.test'] },
      // Green is active again by then; pauses that wait for promote keep the rollout open for promote, pause, resume and abort.
      'POST /v1/services/:service/rollouts': { to: 'blue', steps: [{ pause: {} }, { pause: {} }, { pause: {} }] },
      'POST /v1/services/:service/rollout/promote': {},
      'POST /v1/services/:service/rollout/pause': {},
      'POST /v1/services/:service/rollout/resume': {},
      'POST /v1/services/:service/rollout/abort': {},
      'PUT /v1/services/:service/overrides': { overrides: [{ header: 'x-canary', value: 'always', to: 'standby' }] },
      'POST /v1/certificates/acme': { name: 'ordered', hosts: ['ordered.example.com'] },
    };
  });
  afterAll(async () => {
    delete process.env[TOKEN_ENV];
    await app?.stop(0);
    await Promise.all(upstreams.map((u) => u.close()));
  });

  const isPublic = (route: Route) => PUBLIC_ROUTES.has(route.url) && (route.method === 'GET' || route.method === 'HEAD');

  it('reads the route table from fastify (every route of SPEC §5 is in it)', () => {
    const keys = registeredRoutes(app.admin).map((r) => `${r.method} ${r.url}`);
    expect(keys).toEqual(
      expect.arrayContaining([
        'GET /healthz',
        'HEAD /healthz',
        'GET /metrics',
        'GET /v1/services',
        'GET /v1/services/:service',
        'GET /v1/services/:service/history',
        'POST /v1/services/:service/switch',
        'PUT /v1/services/:service/weights',
        'POST /v1/services/:service/rollback',
        'PUT /v1/services/:service/stacks/:stack/targets',
        'GET /v1/certificates',
        'POST /v1/certificates',
        'POST /v1/certificates/self-signed',
        'DELETE /v1/certificates/:name',
      ]),
    );
  });

  it('refuses every spelling of every non-public route without the token (401/404, never 2xx) and changes nothing', async () => {
    const stored = () => (existsSync(join(dir, 'state.json')) ? readFileSync(join(dir, 'state.json'), 'utf8') : 'none');
    const before = { generation: app.controller.snapshot.generation, certificates: app.certificates.list(), state: stored() };
    const allowed: string[] = [];
    for (const route of registeredRoutes(app.admin)) {
      const body = bodies[`${route.method} ${route.url}`];
      const results = await Promise.all(
        spellings(concrete(route.url), port).map(async ([spelling, target]) => [spelling, target, await send(port, route.method, target, body)] as const),
      );
      for (const [spelling, target, status] of results) {
        if (isPublic(route)) {
          if (spelling === 'canonical') expect(status, `${route.method} ${target}`).toBe(200);
        } else if (![400, 401, 404].includes(status)) {
          allowed.push(`${route.method} ${target} (${spelling}) → ${status}`);
        }
      }
    }
    expect(allowed).toEqual([]);
    expect(app.controller.snapshot.generation).toBe(before.generation);
    expect(app.certificates.list()).toEqual(before.certificates);
    expect(stored()).toBe(before.state);
  });

  it('answers 401, not 404, to an unknown route without the token (the route table cannot be probed)', async () => {
    expect(await send(port, 'GET', '/v1/nope', undefined)).toBe(401);
    expect(await send(port, 'GET', '/nope', undefined)).toBe(401);
    expect(await send(port, 'GET', '/nope', undefined, TOKEN)).toBe(404);
  });

  it('serves every route on its canonical path with the token', async () => {
    const routes = registeredRoutes(app.admin).sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
    const statuses = [];
    for (const route of routes) {
      const status = await send(port, route.method, concrete(route.url), bodies[`${route.method} ${route.url}`], TOKEN);
      statuses.push(`${route.method} ${route.url} → ${status < 300 ? '2xx' : status}`);
    }
    expect(statuses).toEqual(routes.map((r) => `${r.method} ${r.url} → 2xx`));
    expect(app.certificates.has('site')).toBe(false);
    expect(app.certificates.has('uploaded')).toBe(true);
  });

  it('refuses every spelling of the event stream without the token, and opens only the canonical one with it', async () => {
    const results = await Promise.all(
      spellings('/v1/events', port).map(async ([spelling, target]) => ({
        spelling,
        without: await handshakeStatus(port, target),
        with: await handshakeStatus(port, target, TOKEN),
      })),
    );
    for (const result of results) expect([401, 404], `${result.spelling} without the token`).toContain(result.without);
    expect(results.find((r) => r.spelling === 'canonical')?.with).toBe(101);
  });
});
