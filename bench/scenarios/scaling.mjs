// Scenario (g): switchyard with a large config vs a small one, interleaved, as a ratio
// (large / small req/s; the goal is >= 0.9).
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import * as configs from '../peers/configs.mjs';
import { startSwitchyard, startSystem } from '../peers/systems.mjs';
import { load, LOAD_CORE } from '../lib/load.mjs';
import { writeManyCerts } from '../lib/many-certs.mjs';
import { pinned, rssKiB, stop } from '../lib/proc.mjs';
import { summarize } from './throughput.mjs';

/** New TLS handshakes per second naming `servername` (SNI), from a Node client on the load core. */
function handshakes(ctx, sys, servername) {
  const argv = pinned(LOAD_CORE, [process.execPath, join(ctx.root, 'bench/lib/tls-handshakes.mjs'), String(sys.tlsPort), servername, String(ctx.seconds)]);
  return new Promise((resolve, reject) => {
    execFile(argv[0], argv.slice(1), { encoding: 'utf8', timeout: (ctx.seconds + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message} ${stderr}`.trim()));
      const r = JSON.parse(stdout.trim());
      if (r.wrongCert || r.errors) return reject(new Error(`${r.wrongCert} handshakes got the wrong certificate, ${r.errors} failed`));
      resolve({ ...r, non2xx: 0, socketErrors: '' });
    });
  });
}

/** A certs_dir with `count` certificates h<i>.bench.local, made once per run. */
async function certsDir(ctx, count) {
  const dir = mkdtempSync(join(ctx.dir, `certs-${count}-`));
  await writeManyCerts(dir, count);
  return dir;
}

/** Scaling cases: services YAML and request headers for the small and the large config. */
export const CASES = {
  vhosts: {
    label: 'g: 1 vs 10,000 virtual hosts',
    small: (ctx) => ({ services: configs.manyHosts(1, `127.0.0.1:${ctx.upstreamPort}`), headers: ['Host: h0.bench.local'] }),
    large: (ctx) => ({ services: configs.manyHosts(10_000, `127.0.0.1:${ctx.upstreamPort}`), headers: ['Host: h9999.bench.local'] }),
  },
  // nginx with the same 1 vs 1,000 upstream servers runs alongside: 1,000 kept-alive upstream
  // connections cost the kernel more than 50, whoever holds them.
  targets: {
    label: 'g: 1 vs 1,000 targets per stack',
    small: (ctx) => ({ services: configs.manyTargets(1, ctx.upstreamPort), headers: [], nginxServers: configs.loopbackTargets(1, ctx.upstreamPort) }),
    large: (ctx) => ({ services: configs.manyTargets(1000, ctx.upstreamPort), headers: [], nginxServers: configs.loopbackTargets(1000, ctx.upstreamPort) }),
  },
  // TLS handshakes/s (a new connection each, SNI naming the last certificate) with 1 vs
  // 10,000 certificates loaded: what grows is the SNI lookup and the context store.
  certs: {
    label: 'g: 1 vs 10,000 certificates (SNI handshakes/s)',
    small: async (ctx) => ({ extraCerts: await certsDir(ctx, 1), servername: 'h0.bench.local' }),
    large: async (ctx) => ({ extraCerts: await certsDir(ctx, 10_000), servername: 'h9999.bench.local' }),
  },
};

/** Runs one scaling case; returns the two rows, the large one carrying `ratio`. */
export async function runScaling(ctx, key) {
  const c = CASES[key];
  const sizes = [
    ['small', c.small(ctx)],
    ['large', c.large(ctx)],
  ];
  const systems = [];
  try {
    for (const [size, setup] of sizes) {
      const { services, headers, extraCerts, servername, nginxServers } = await setup;
      const started = [await startSwitchyard(ctx, { name: `switchyard (${size})`, services, extraCerts })];
      if (nginxServers) started.push({ ...(await startSystem('nginx', ctx, { servers: nginxServers })), name: `nginx (${size})` });
      for (const sys of started) {
        const measure = servername
          ? () => handshakes(ctx, sys, servername)
          : (seconds = ctx.seconds) => load(`http://127.0.0.1:${sys.port}/`, { seconds, headers });
        systems.push({ sys, measure, samples: [], rss: 0 });
        if (!servername) await measure(Math.min(2, ctx.seconds));
      }
    }
    for (let run = 0; run < ctx.runs; run++) {
      for (const s of systems) {
        s.samples.push(await s.measure());
        s.rss = Math.max(s.rss, rssKiB(s.sys.pid) ?? 0);
      }
    }
  } catch (err) {
    console.error(`${c.label}: failed (${err.message})`);
    ctx.failures.push({ system: `switchyard ${key}`, error: err.message });
    return [];
  } finally {
    for (const s of systems) await stop(s.sys.child);
  }
  // Rows in start order: each system's small run, then its large one (which carries the ratio).
  const rows = systems.map((s) => summarize(c.label, s.sys.name, s.samples, s.rss));
  const perSystem = rows.length / 2;
  for (let i = 0; i < perSystem; i++) {
    const small = rows[i];
    const large = rows[i + perSystem];
    large.ratio = small.rps ? large.rps / small.rps : null;
    console.log(`${c.label} · ${large.system.replace(' (large)', '')}: large/small req/s = ${large.ratio?.toFixed(2)}`);
  }
  return rows;
}
