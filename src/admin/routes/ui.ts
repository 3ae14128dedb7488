import { readdir, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { extname } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { SwitchyardError } from '../../errors.js';
import { Figures, type FiguresOptions, type LastChecks } from '../../metrics/figures.js';
import type { RoutingSnapshot } from '../../routing/snapshot.js';

/** Where `npm run build` puts the page: `dist/ui` at the package root, seen from src/admin/routes and dist/admin/routes alike. */
const PAGE_DIR = new URL('../../../dist/ui/', import.meta.url);

/**
 * The dashboard's Content-Security-Policy: its own scripts, styles and connections only
 * (`'self'` covers the same-origin ws: of the event stream), no inline script or style,
 * never framed (clickjacking), no `<base>` or form posts.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE_HEADERS = {
  'content-security-policy': DASHBOARD_CSP,
  // For browsers that predate frame-ancestors.
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // Small files: always revalidated, so an upgrade of switchyard shows its own page.
  'cache-control': 'no-cache',
};

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The page is one flat directory of plain names: nothing else can be named through the URL. */
const FILE_NAME = /^[a-z0-9][a-z0-9-]*\.(?:html|js|css|svg)$/;

/** What the dashboard needs besides the admin app. */
export interface DashboardDeps {
  /** The metrics registry the figures are computed from; undefined when metrics are disabled. Read at every sample. */
  readonly metrics: () => Registry | undefined;
  /** The current routing snapshot, for the targets' last checks on each figures tick. */
  readonly snapshot: () => RoutingSnapshot;
  /** Logs the dashboard's address once the admin listener is up. */
  readonly log: Logger;
  /** Sampling of the figures (tests). */
  readonly figures?: FiguresOptions;
}

function lastChecks(snapshot: RoutingSnapshot): LastChecks {
  const services: Record<string, Record<string, Record<string, string | null>>> = {};
  for (const route of snapshot.services.values()) {
    const stacks: Record<string, Record<string, string | null>> = {};
    for (const pool of route.pools) {
      stacks[pool.name] = Object.fromEntries(pool.targets.map((t) => [t.address, t.lastCheck ? new Date(t.lastCheck).toISOString() : null]));
    }
    services[route.name] = stacks;
  }
  return services;
}

async function loadPage(): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const name of await readdir(PAGE_DIR)) {
    if (FILE_NAME.test(name)) files.set(name, await readFile(new URL(name, PAGE_DIR)));
  }
  return files;
}

/**
 * Registers the dashboard (SPEC §11): the page at `GET /ui/` (public, like /healthz: it
 * holds no data; every call it makes is a /v1 call with the token), `GET /v1/figures`
 * (per-stack req/s, 5xx ratio and p99 of the last minutes), and the figures sampler.
 * Returns the sampler, for the event stream to send `figures` messages from.
 */
export function registerDashboard(app: FastifyInstance, deps: DashboardDeps): Figures {
  const figures = new Figures(deps.metrics, { checks: () => lastChecks(deps.snapshot()), ...deps.figures });
  app.addHook('onReady', async () => figures.start());
  app.addHook('onClose', async () => figures.stop());
  app.addHook('onListen', async () => {
    const address = app.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `http://${host}:${address.port}/ui/`;
    deps.log.info({ dashboard: url }, `dashboard: ${url}`);
  });

  app.get('/v1/figures', async () => figures.history());

  // Read once, on first use; a page that is not built yet is looked for again next time.
  let page: Promise<Map<string, Buffer>> | undefined;
  const serve = async (request: FastifyRequest<{ Params: { '*'?: string } }>, reply: FastifyReply) => {
    page ??= loadPage();
    let files: Map<string, Buffer>;
    try {
      files = await page;
    } catch {
      page = undefined;
      throw new SwitchyardError('NOT_FOUND', 'the dashboard is not built: run npm run build');
    }
    const name = request.params['*'] || 'index.html';
    const body = files.get(name);
    if (body === undefined) throw new SwitchyardError('NOT_FOUND', 'no such dashboard file');
    return reply
      .headers(PAGE_HEADERS)
      .type(TYPES[extname(name)] ?? 'application/octet-stream')
      .send(body);
  };
  // `/ui` serves the page too: its asset paths are absolute, so both spellings work.
  app.get('/ui', serve);
  app.get('/ui/', serve);
  app.get('/ui/*', serve);
  return figures;
}
