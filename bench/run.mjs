// End-to-end benchmark: switchyard side by side with plain http-proxy, nginx, HAProxy and
// the upstream itself. Usage: node bench/run.mjs [--scenario a,b,c,d,vhosts,targets]
// [--systems switchyard,http-proxy,nginx,haproxy,direct] [--runs 3] [--duration 5] [--variants]
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as configs from './peers/configs.mjs';
import { ensureTools, freePort, median, rssMiB, start, stopAll, waitReady, wrk } from './lib.mjs';
import { markdown, svg } from './report.mjs';

const root = new URL('..', import.meta.url).pathname;
const { values: opts } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'a,b,c,d' },
    systems: { type: 'string', default: 'switchyard,http-proxy,nginx,haproxy,direct' },
    runs: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    variants: { type: 'boolean', default: false },
  },
});
const runs = Number(opts.runs);
const seconds = Number(opts.duration);
const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));

ensureTools(['nginx', 'haproxy', 'wrk']);

const upstreamPort = await freePort();
mkdirSync(join(dir, 'www'));
writeFileSync(join(dir, 'www/16k'), 'x'.repeat(16384));
writeFileSync(join(dir, 'up.conf'), configs.nginxUpstream(dir, upstreamPort));
start(1, 'nginx', ['-c', join(dir, 'up.conf'), '-p', dir]);
await waitReady(`http://127.0.0.1:${upstreamPort}/`);
const upstream = `127.0.0.1:${upstreamPort}`;

async function startSwitchyard(name, services, extra = '') {
  const port = await freePort();
  const admin = await freePort();
  const sub = mkdtempSync(join(dir, 'sy-'));
  writeFileSync(join(sub, 'sy.yaml'), configs.switchyard(sub, port, admin, services, extra));
  const child = start(0, process.execPath, [join(root, 'dist/cli/main.js'), 'start', '--config', join(sub, 'sy.yaml')]);
  await waitReady(`http://127.0.0.1:${admin}/healthz`, 120_000);
  return { name, port, pid: child.pid, child };
}

const starters = {
  switchyard: () => startSwitchyard('switchyard', configs.benchService(upstream)),
  'switchyard-nometrics': () => startSwitchyard('switchyard-nometrics', configs.benchService(upstream), 'metrics: { enabled: false }'),
  'switchyard-accesslog': () => startSwitchyard('switchyard-accesslog', configs.benchService(upstream), 'logging: { level: info, access_log: true }'),
  'http-proxy': async () => {
    const port = await freePort();
    const child = start(0, process.execPath, [join(root, 'bench/peers/http-proxy-server.mjs'), String(port), `http://${upstream}`]);
    await waitReady(`http://127.0.0.1:${port}/`);
    return { name: 'http-proxy', port, pid: child.pid };
  },
  nginx: async () => {
    const port = await freePort();
    writeFileSync(join(dir, 'px.conf'), configs.nginxProxy(dir, port, upstreamPort));
    const child = start(0, 'nginx', ['-c', join(dir, 'px.conf'), '-p', dir]);
    await waitReady(`http://127.0.0.1:${port}/`);
    return { name: 'nginx', port, pid: child.pid };
  },
  haproxy: async () => {
    const port = await freePort();
    writeFileSync(join(dir, 'ha.cfg'), configs.haproxy(port, upstreamPort));
    const child = start(0, 'haproxy', ['-f', join(dir, 'ha.cfg')]);
    await waitReady(`http://127.0.0.1:${port}/`);
    return { name: 'haproxy', port, pid: child.pid };
  },
  direct: async () => ({ name: 'direct', port: upstreamPort, pid: null }),
};

writeFileSync(join(dir, 'post.lua'), `wrk.method = "POST"\nwrk.body = string.rep("x", 4096)\nwrk.headers["Content-Type"] = "application/octet-stream"\n`);
const scenarios = {
  a: { label: 'a: GET, keep-alive, 50 conns', path: '/', load: {} },
  b: { label: 'b: 16 KB responses', path: '/16k', load: {} },
  c: { label: 'c: 4 KB POST bodies', path: '/', load: { script: join(dir, 'post.lua') } },
  d: { label: 'd: new connection per request', path: '/', load: { headers: ['Connection: close'] } },
};

const results = [];
const selected = opts.scenario.split(',');
let systems = opts.systems.split(',');
if (opts.variants) systems = [...systems, 'switchyard-nometrics', 'switchyard-accesslog'];

// (a)-(d): every system started once, runs interleaved A B C A B C so drift hits all alike.
const basic = selected.filter((s) => scenarios[s]);
if (basic.length) {
  const running = [];
  for (const name of systems) {
    try {
      running.push(await starters[name]());
    } catch (err) {
      console.error(`${name}: failed to start (${err.message})`);
    }
  }
  for (const key of basic) {
    const scenario = scenarios[key];
    const samples = new Map(running.map((s) => [s.name, []]));
    for (let run = 0; run < runs; run++) {
      for (const sys of running) samples.get(sys.name).push(wrk(`http://127.0.0.1:${sys.port}${scenario.path}`, { seconds, ...scenario.load }));
    }
    for (const sys of running) {
      const s = samples.get(sys.name);
      results.push({ scenario: scenario.label, system: sys.name, rps: median(s.map((x) => x.rps)), p50: median(s.map((x) => x.p50)), p99: median(s.map((x) => x.p99)), rss: sys.pid ? rssMiB(sys.pid) : null, non2xx: s.reduce((n, x) => n + x.non2xx, 0), samples: s });
      console.log(`${scenario.label} ${sys.name}: ${results.at(-1).rps} req/s`);
    }
  }
  for (const sys of running) sys.child?.kill('SIGKILL');
}

// (g) scaling: the large case as a ratio to the small one, interleaved.
async function scaling(label, small, large, path, headers) {
  const a = await startSwitchyard(`${label} small`, small);
  const b = await startSwitchyard(`${label} large`, large);
  const s = { a: [], b: [] };
  for (let run = 0; run < runs; run++) {
    s.a.push(wrk(`http://127.0.0.1:${a.port}${path}`, { seconds, headers: headers.small }));
    s.b.push(wrk(`http://127.0.0.1:${b.port}${path}`, { seconds, headers: headers.large }));
  }
  for (const [sys, samples] of [[a, s.a], [b, s.b]]) {
    results.push({ scenario: `g: ${label}`, system: sys.name, rps: median(samples.map((x) => x.rps)), p50: median(samples.map((x) => x.p50)), p99: median(samples.map((x) => x.p99)), rss: rssMiB(sys.pid), non2xx: samples.reduce((n, x) => n + x.non2xx, 0), samples });
  }
  console.log(`g: ${label}: large/small = ${(results.at(-1).rps / results.at(-2).rps).toFixed(2)}`);
  a.child.kill('SIGKILL');
  b.child.kill('SIGKILL');
}
if (selected.includes('vhosts')) {
  await scaling('1 vs 10,000 virtual hosts', configs.manyHosts(1, upstream), configs.manyHosts(10_000, upstream), '/', { small: ['Host: h0.bench.local'], large: ['Host: h9999.bench.local'] });
}
if (selected.includes('targets')) {
  await scaling('1 vs 1,000 targets per stack', configs.manyTargets(1, upstreamPort), configs.manyTargets(1000, upstreamPort), '/', { small: [], large: [] });
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const command = `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim();
writeFileSync(join(root, 'bench/results', `${stamp}.json`), JSON.stringify({ command, results }, null, 2));
const table = markdown(results, command);
writeFileSync(join(root, 'bench/results/latest.md'), table);
writeFileSync(join(root, 'bench/results/latest.svg'), svg(results));
console.log('\n' + table);
stopAll();
