// Scenario (g): switchyard with a large config vs a small one, interleaved, as a ratio
// (large / small req/s; the goal is >= 0.9). Extension point: 1 vs 10,000 certificates (SNI).
import * as configs from '../peers/configs.mjs';
import { startSwitchyard } from '../peers/systems.mjs';
import { load } from '../lib/load.mjs';
import { rssKiB, stop } from '../lib/proc.mjs';
import { summarize } from './throughput.mjs';

/** Scaling cases: services YAML and request headers for the small and the large config. */
export const CASES = {
  vhosts: {
    label: 'g: 1 vs 10,000 virtual hosts',
    small: (ctx) => ({ services: configs.manyHosts(1, `127.0.0.1:${ctx.upstreamPort}`), headers: ['Host: h0.bench.local'] }),
    large: (ctx) => ({ services: configs.manyHosts(10_000, `127.0.0.1:${ctx.upstreamPort}`), headers: ['Host: h9999.bench.local'] }),
  },
  targets: {
    label: 'g: 1 vs 1,000 targets per stack',
    small: (ctx) => ({ services: configs.manyTargets(1, ctx.upstreamPort), headers: [] }),
    large: (ctx) => ({ services: configs.manyTargets(1000, ctx.upstreamPort), headers: [] }),
  },
};

/** Runs one scaling case; returns the two rows, the large one carrying `ratio`. */
export async function runScaling(ctx, key) {
  const c = CASES[key];
  const sizes = [['small', c.small(ctx)], ['large', c.large(ctx)]];
  const systems = [];
  try {
    for (const [size, { services, headers }] of sizes) {
      const sys = await startSwitchyard(ctx, { name: `switchyard (${size})`, services });
      systems.push({ sys, headers, samples: [], rss: 0 });
      await load(`http://127.0.0.1:${sys.port}/`, { seconds: Math.min(2, ctx.seconds), headers });
    }
    for (let run = 0; run < ctx.runs; run++) {
      for (const s of systems) {
        s.samples.push(await load(`http://127.0.0.1:${s.sys.port}/`, { seconds: ctx.seconds, headers: s.headers }));
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
  const [small, large] = systems.map((s) => summarize(c.label, s.sys.name, s.samples, s.rss));
  large.ratio = small.rps ? large.rps / small.rps : null;
  console.log(`${c.label}: large/small req/s = ${large.ratio?.toFixed(2)}`);
  return [small, large];
}
