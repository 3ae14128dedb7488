// Starting each system under test on core 0. Every starter resolves to
// { name, port, tlsPort, pid, child, h2 } once the system answers, or throws; `h2` says its
// TLS port offers HTTP/2 (the e2 scenario skips the others).
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as configs from './configs.mjs';
import { freePort, has, start, waitReady } from '../lib/proc.mjs';

/** Core of the system under test. */
export const SUT_CORE = 0;

/** Connections handed out round robin by the primary (Node's Linux default; switchyard's default is `none`: each worker accepts). */
const SCHED_RR = { NODE_CLUSTER_SCHED_POLICY: 'rr' };

/**
 * switchyard variants: extra top-level YAML, environment, and the cores it may use (default
 * SUT_CORE alone). Add one here to compare a setting (it is passed through as is; keys
 * switchyard does not know fail its start). `switchyard` is the default config: `workers:
 * auto`, which on one core is a primary and one worker.
 */
export const VARIANTS = {
  switchyard: { yaml: '' },
  'switchyard-nometrics': { yaml: 'metrics: { enabled: false }', env: { SWITCHYARD_METRICS: '0' } },
  'switchyard-accesslog': { yaml: 'logging: { level: info, access_log: true }' },
  // One process doing everything (no primary, no workers), as before issue 13.
  'switchyard-inline': { yaml: 'workers: 0' },
  // A primary and 1 or 2 workers; the 2-worker ones get both cores (the load generator and the upstream share core 1 with worker 2).
  'switchyard-w1': { yaml: 'workers: 1' },
  'switchyard-w2': { yaml: 'workers: 2', core: '0,1' },
  'switchyard-w1-rr': { yaml: 'workers: 1', env: SCHED_RR },
  'switchyard-w2-rr': { yaml: 'workers: 2', env: SCHED_RR, core: '0,1' },
  // Another checkout's build, for a before/after in one run: SWITCHYARD_BASE=/path/to/checkout (with dist/ built).
  'switchyard-base': { yaml: '', root: process.env.SWITCHYARD_BASE },
};

/** The peers every comparison includes, in table order. */
export const PEERS = ['switchyard', 'http-proxy', 'nginx', 'haproxy', 'direct'];

async function ports() {
  return { port: await freePort(), tlsPort: await freePort() };
}

/**
 * switchyard from dist/ with a generated config; `services` is the YAML of its service
 * list (default: `bench` on the upstream), `extra` top-level YAML, `fds` an open-file limit.
 */
export async function startSwitchyard(
  ctx,
  { name = 'switchyard', services, extra = '', env, upstreamPort = ctx.upstreamPort, fds, extraCerts, core = SUT_CORE, root = ctx.root } = {},
) {
  const p = await ports();
  const adminPort = await freePort();
  const dir = mkdtempSync(join(ctx.dir, 'sy-'));
  mkdirSync(join(dir, 'certs'));
  copyFileSync(ctx.cert.crt, join(dir, 'certs/bench.crt'));
  copyFileSync(ctx.cert.key, join(dir, 'certs/bench.key'));
  chmodSync(join(dir, 'certs/bench.key'), 0o600);
  // More certificates (scaling case): every <name>.crt/.key of `extraCerts` joins certs_dir.
  if (extraCerts) cpSync(extraCerts, join(dir, 'certs'), { recursive: true });
  const yaml = configs.switchyard(dir, { ...p, adminPort, services: services ?? configs.benchService(`127.0.0.1:${upstreamPort}`), extra });
  writeFileSync(join(dir, 'switchyard.yaml'), yaml);
  const child = start(core, process.execPath, [join(root, 'dist/cli/main.js'), 'start', '--config', join(dir, 'switchyard.yaml')], { env, fds });
  await waitReady(`http://127.0.0.1:${adminPort}/healthz`, { ms: 120_000, child });
  return { name, ...p, adminPort, pid: child.pid, child, h2: true };
}

async function startHttpProxy(ctx, { upstreamPort = ctx.upstreamPort, fds } = {}) {
  const p = await ports();
  const script = join(ctx.root, 'bench/peers/http-proxy-server.mjs');
  const child = start(SUT_CORE, process.execPath, [script, String(p.port), String(p.tlsPort), `http://127.0.0.1:${upstreamPort}`, ctx.cert.crt, ctx.cert.key], {
    fds,
  });
  await waitReady(`http://127.0.0.1:${p.port}/`, { child });
  return { name: 'http-proxy', ...p, pid: child.pid, child };
}

async function startNginx(ctx, { upstreamPort = ctx.upstreamPort, fds, servers } = {}) {
  if (!has('nginx')) throw new Error('nginx is not installed');
  const p = await ports();
  const dir = mkdtempSync(join(ctx.dir, 'nginx-'));
  writeFileSync(join(dir, 'nginx.conf'), configs.nginxProxy(dir, { ...p, cert: ctx.cert, upstreamPort, fds, servers }));
  const child = start(SUT_CORE, 'nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { fds });
  await waitReady(`http://127.0.0.1:${p.port}/`, { child });
  return { name: 'nginx', ...p, pid: child.pid, child, h2: true };
}

async function startHaproxy(ctx, { upstreamPort = ctx.upstreamPort, fds } = {}) {
  if (!has('haproxy')) throw new Error('haproxy is not installed');
  const p = await ports();
  const file = join(mkdtempSync(join(ctx.dir, 'haproxy-')), 'haproxy.cfg');
  // HAProxy needs about two fds per client connection (client and server side) and refuses to start beyond its limit.
  writeFileSync(file, configs.haproxy({ ...p, cert: ctx.cert, upstreamPort, maxconn: fds ? Math.floor(fds / 2) - 100 : undefined }));
  const child = start(SUT_CORE, 'haproxy', ['-f', file], { fds });
  await waitReady(`http://127.0.0.1:${p.port}/`, { child });
  return { name: 'haproxy', ...p, pid: child.pid, child, h2: true };
}

/** "direct": the upstream itself, the limit (its RSS is not the proxy's, so not reported). */
async function direct(ctx) {
  return { name: 'direct', port: ctx.upstreamPort, tlsPort: ctx.upstreamTlsPort, pid: null, child: null };
}

/** Starts the system `name` (a peer or a switchyard variant). */
export function startSystem(name, ctx, options = {}) {
  const variant = VARIANTS[name];
  if (variant?.root === undefined && name === 'switchyard-base') throw new Error('switchyard-base needs SWITCHYARD_BASE=<checkout with dist/ built>');
  if (variant) return startSwitchyard(ctx, { name, extra: variant.yaml, env: variant.env, core: variant.core, root: variant.root ?? ctx.root, ...options });
  switch (name) {
    case 'http-proxy':
      return startHttpProxy(ctx, options);
    case 'nginx':
      return startNginx(ctx, options);
    case 'haproxy':
      return startHaproxy(ctx, options);
    case 'direct':
      return direct(ctx);
    default:
      throw new Error(`unknown system ${name} (known: ${[...PEERS, ...Object.keys(VARIANTS)].join(', ')})`);
  }
}
