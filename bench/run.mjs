// End-to-end benchmark: switchyard side by side with plain http-proxy, nginx, HAProxy and
// the upstream itself. See bench/README.md. Usage:
//   node bench/run.mjs [--scenario a,b,c,d] [--systems switchyard,http-proxy,nginx,haproxy,direct]
//                      [--variants] [--runs 3] [--duration 10]
// Scenarios: a b c d e f e2 l (throughput; e2 = e over HTTP/2 with h2load), g = vhosts,targets (scaling),
// h (idle WebSockets), i (cut-over), j (fleet on etcd), all.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeCert } from './lib/cert.mjs';
import { loadTool } from './lib/load.mjs';
import { ensureTools, hasTaskset, stopAll } from './lib/proc.mjs';
import { startUpstream } from './lib/upstream.mjs';
import { PEERS, VARIANTS } from './peers/systems.mjs';
import { markdown, svg } from './report.mjs';
import { runCutover } from './scenarios/cutover.mjs';
import { runFleet } from './scenarios/fleet.mjs';
import { CASES, runScaling } from './scenarios/scaling.mjs';
import { SCENARIOS, runThroughput } from './scenarios/throughput.mjs';
import { runWebSockets } from './scenarios/websockets.mjs';

const { values: opts } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'a,b,c,d' },
    systems: { type: 'string', default: PEERS.join(',') },
    variants: { type: 'boolean', default: false },
    runs: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10000' },
  },
});

const root = new URL('..', import.meta.url).pathname;
let selected = opts.scenario
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
if (selected.includes('all')) selected = [...Object.keys(SCENARIOS), 'g', 'h', 'i', 'j'];
if (selected.includes('g')) selected = [...selected.filter((s) => s !== 'g'), ...Object.keys(CASES)];
const known = [...Object.keys(SCENARIOS), ...Object.keys(CASES), 'h', 'i', 'j'];
const unknown = selected.filter((s) => !known.includes(s));
if (unknown.length) {
  console.error(`unknown scenario ${unknown.join(', ')}; known: ${known.join(', ')}, g, all`);
  process.exit(2);
}
let systems = opts.systems
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
if (opts.variants) systems = [...systems, ...Object.keys(VARIANTS).filter((v) => !systems.includes(v))];

ensureTools(['nginx', 'haproxy', 'wrk', ...(selected.some((s) => SCENARIOS[s]?.h2) ? ['h2load'] : [])]);
if (!loadTool()) {
  console.error('no load generator: wrk could not be installed and autocannon is not in node_modules (npm i -D autocannon)');
  process.exit(1);
}
if (!hasTaskset) console.log('taskset not found: processes are not pinned to cores, numbers are noisier');
if (!existsSync(join(root, 'dist/cli/main.js'))) console.log('dist/cli/main.js is missing (npm install builds it): switchyard will fail to start');

const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
/** Shared by every scenario: where things are, the upstream, run length, failures to report. */
const ctx = { root, dir, runs: Number(opts.runs), seconds: Number(opts.duration), failures: [] };
ctx.cert = makeCert(join(dir, 'cert'));
const upstream = await startUpstream(ctx);
Object.assign(ctx, { upstreamPort: upstream.port, upstreamTlsPort: upstream.tlsPort });
console.log(`upstream: ${upstream.kind} on 127.0.0.1:${upstream.port}; load generator: ${loadTool()}; ${ctx.runs} runs × ${ctx.seconds} s`);

const report = {
  command: `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  load: loadTool(),
  upstream: upstream.kind,
  rows: [],
  websockets: [],
  cutover: [],
  fleet: null,
  failures: ctx.failures,
};
try {
  const throughput = selected.filter((s) => SCENARIOS[s]);
  if (throughput.length) report.rows.push(...(await runThroughput(ctx, throughput, systems)));
  for (const key of selected.filter((s) => CASES[s])) report.rows.push(...(await runScaling(ctx, key)));
  if (selected.includes('h'))
    report.websockets = await runWebSockets(
      ctx,
      systems.filter((s) => s !== 'direct'),
      Number(opts.connections),
    );
  if (selected.includes('i')) {
    const variants = systems.filter((s) => VARIANTS[s]);
    report.cutover = await runCutover(ctx, variants.length ? variants : ['switchyard']);
  }
  if (selected.includes('j')) {
    report.fleet = await runFleet(ctx);
    report.rows.push(...report.fleet.rows);
  }
} finally {
  stopAll();
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const out = join(root, 'bench/results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, `${stamp}.json`), JSON.stringify({ machine: process.arch, date: new Date().toISOString(), ...report }, null, 2));
const table = markdown(report);
writeFileSync(join(out, 'latest.md'), table);
if (report.rows.length) writeFileSync(join(out, 'latest.svg'), svg(report.rows));
console.log(`\n${table}`);
console.log(`written: bench/results/${stamp}.json, bench/results/latest.md${report.rows.length ? ', bench/results/latest.svg' : ''}`);
rmSync(dir, { recursive: true, force: true });
