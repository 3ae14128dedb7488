// Scenarios (a)-(f): every system started once, then runs interleaved A B C A B C so
// drift hits all alike; medians of the runs.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { POST_LUA } from '../peers/configs.mjs';
import { startSystem } from '../peers/systems.mjs';
import { load, loadH2, median } from '../lib/load.mjs';
import { cpuMicros, cpuSelfMicros, rssKiB, stop } from '../lib/proc.mjs';

/** The throughput scenarios: request shape and transport. Add one here to extend. */
export const SCENARIOS = {
  a: { label: 'a: GET, keep-alive, 50 conns', path: '/' },
  b: { label: 'b: 16 KB responses', path: '/16k' },
  c: { label: 'c: 4 KB POST bodies', path: '/', post: true },
  d: { label: 'd: new connection per request', path: '/', headers: ['Connection: close'] },
  e: { label: 'e: TLS, keep-alive', path: '/', tls: true },
  f: { label: 'f: TLS handshake per request', path: '/', tls: true, headers: ['Connection: close'] },
  // (e) over HTTP/2 with h2load: the same 50 requests in flight, as 10 connections × 5
  // streams (a browser multiplexes on one connection per origin). Only systems that offer
  // h2 on their TLS port run it.
  e2: { label: 'e2: TLS, keep-alive, HTTP/2 (h2load)', path: '/', tls: true, h2: { clients: 10, streams: 5 } },
  // Same load on every system (50 connections, each pausing 5 ms between requests, so at
  // most ~10k req/s): the latency a proxy adds when it is not saturated. In (a) latency is
  // connections / throughput, so p99 there mostly restates req/s.
  l: { label: 'l: latency at a fixed ~10k req/s', path: '/', script: 'function delay() return 5 end\n' },
};

function loadOptions(ctx, scenario) {
  const options = { seconds: ctx.seconds, connections: 50, headers: scenario.headers ?? [] };
  if (scenario.script) {
    const script = join(ctx.dir, 'delay.lua');
    writeFileSync(script, scenario.script);
    options.script = script;
  }
  if (scenario.post) {
    const script = join(ctx.dir, 'post.lua');
    writeFileSync(script, POST_LUA);
    Object.assign(options, { script, method: 'POST', body: 'x'.repeat(4096), headers: [...options.headers, 'Content-Type: application/octet-stream'] });
  }
  return options;
}

function url(sys, scenario) {
  if (scenario.h2 && !sys.h2) return null;
  const port = scenario.tls ? sys.tlsPort : sys.port;
  return port ? `${scenario.tls ? 'https' : 'http'}://127.0.0.1:${port}${scenario.path}` : null;
}

/** Runs the selected throughput scenarios (keys of SCENARIOS) on `systems` (started by `starter`); returns result rows. */
export async function runThroughput(ctx, keys, systems, starter = (name) => startSystem(name, ctx)) {
  const running = [];
  for (const name of systems) {
    try {
      const sys = await starter(name);
      // Warm-up (JIT, pools) so the first measured run is not penalised.
      await load(`http://127.0.0.1:${sys.port}/`, { seconds: Math.min(2, ctx.seconds) });
      running.push(sys);
      console.log(`started ${name}`);
    } catch (err) {
      console.error(`${name}: failed to start, skipped (${err.message})`);
      ctx.failures.push({ system: name, error: err.message });
    }
  }
  const rows = [];
  for (const key of keys) {
    const scenario = SCENARIOS[key];
    const options = loadOptions(ctx, scenario);
    const samples = new Map(running.map((s) => [s.name, []]));
    const rss = new Map();
    for (let run = 0; run < ctx.runs; run++) {
      for (const sys of running) {
        const target = url(sys, scenario);
        if (!target) continue;
        try {
          // CPU time of the system under test per request served: steadier than req/s on a shared machine.
          const cpuBefore = sys.pid ? cpuMicros(sys.pid) : null;
          const mainBefore = sys.pid ? cpuSelfMicros(sys.pid) : null;
          const sample = await (scenario.h2 ? loadH2(target, { ...scenario.h2, seconds: ctx.seconds }) : load(target, options));
          const cpuAfter = sys.pid ? cpuMicros(sys.pid) : null;
          const mainAfter = sys.pid ? cpuSelfMicros(sys.pid) : null;
          const per = (before, after) => (before !== null && after !== null && sample.requests > 0 ? (after - before) / sample.requests : null);
          sample.cpuUs = per(cpuBefore, cpuAfter);
          // The main process alone (switchyard's primary, nginx's master): the rest is its children (workers).
          sample.cpuMainUs = per(mainBefore, mainAfter);
          samples.get(sys.name).push(sample);
        } catch (err) {
          console.error(`${scenario.label} ${sys.name}: ${err.message}`);
        }
        if (sys.pid) rss.set(sys.name, Math.max(rss.get(sys.name) ?? 0, rssKiB(sys.pid) ?? 0));
      }
    }
    for (const sys of running) {
      const s = samples.get(sys.name);
      if (s.length === 0) continue;
      const row = summarize(scenario.label, sys.name, s, rss.get(sys.name));
      rows.push(row);
      console.log(
        `${scenario.label} · ${sys.name}: ${Math.round(row.rps)} req/s, p99 ${row.p99} ms, CPU ${row.cpuUs?.toFixed(1)} µs/req${row.non2xx ? `, ${row.non2xx} non-2xx` : ''}`,
      );
    }
  }
  for (const sys of running) await stop(sys.child);
  return rows;
}

/** One table row from the samples of one system in one scenario. */
export function summarize(scenario, system, samples, rss) {
  return {
    scenario,
    system,
    rps: median(samples.map((x) => x.rps)),
    p50: median(samples.map((x) => x.p50)),
    p99: median(samples.map((x) => x.p99)),
    cpuUs: median(samples.map((x) => x.cpuUs)),
    cpuMainUs: median(samples.map((x) => x.cpuMainUs)),
    rssMiB: rss ? Math.round(rss / 1024) : null,
    non2xx: samples.reduce((n, x) => n + x.non2xx, 0),
    socketErrors: samples.map((x) => x.socketErrors).filter(Boolean),
    samples,
  };
}
