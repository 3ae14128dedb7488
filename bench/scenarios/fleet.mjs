// Scenario (j): a fleet on one etcd (issue 14, SPEC §9).
//  1. propagation: 5 switchyard processes share one etcd; 100 flips through instance A's
//     admin API; per flip and instance, the time from A's acknowledgement to the first
//     answer from the new stack (each instance polled over keep-alive, one request at a
//     time, ~1 ms apart; all instances share core 0);
//  2. outage: etcd SIGKILLed then started again (and SIGSTOPped then continued) under light
//     keep-alive traffic: failed requests, how long a refused mutation takes, how long until
//     every instance reports switchyard_store_connected 0, and after etcd is back until a
//     mutation is accepted and every instance serves it;
//  3. the hot path with the etcd store vs the file store: scenario (a) on both, interleaved,
//     once in each order (etcd is never on the request path: the ratio must be 1 within noise).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { LOAD_CORE } from '../lib/load.mjs';
import { freePort, has, start, stop, waitReady } from '../lib/proc.mjs';
import { benchService } from '../peers/configs.mjs';
import { startSwitchyard } from '../peers/systems.mjs';
import { runThroughput } from './throughput.mjs';

const INSTANCES = 5;
const FLIPS = 100;
const agent = new Agent({ keepAliveTimeout: 30_000, connections: 64 });

/** A single-member etcd on free ports (core 1, with the upstreams and the load generator). */
async function startEtcd(ctx) {
  if (!has('etcd')) spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server'], { stdio: 'inherit' });
  if (!has('etcd')) throw new Error('etcd not found (Debian package etcd-server)');
  const [client, peer] = [await freePort(), await freePort()];
  const dataDir = mkdtempSync(join(ctx.dir, 'etcd-'));
  const url = `http://127.0.0.1:${client}`;
  const args = [
    `--data-dir=${join(dataDir, 'data')}`,
    `--listen-client-urls=${url}`,
    `--advertise-client-urls=${url}`,
    `--listen-peer-urls=http://127.0.0.1:${peer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
    `--initial-cluster=default=http://127.0.0.1:${peer}`,
    '--log-level=warn',
  ];
  const etcd = { url, child: null };
  etcd.start = async () => {
    etcd.child = start(LOAD_CORE, 'etcd', args);
    await waitReady(`${url}/health`, { child: etcd.child });
  };
  await etcd.start();
  return etcd;
}

function etcdState(ctx, dir, id) {
  return `state: { store: etcd, endpoints: ["${ctx.etcdUrl}"], prefix: /bench-fleet/, path: ${dir}/cache-${id}.json, instance_id: ${id} }`;
}

async function body(port) {
  const response = await request(`http://127.0.0.1:${port}/`, { dispatcher: agent, headersTimeout: 5000, bodyTimeout: 5000 });
  return response.body.text();
}

async function admin(sys, method, path, payload) {
  const response = await request(`http://127.0.0.1:${sys.adminPort}${path}`, {
    method,
    dispatcher: agent,
    headers: payload ? { 'content-type': 'application/json' } : {},
    body: payload ? JSON.stringify(payload) : undefined,
  });
  return { status: response.statusCode, json: await response.body.json() };
}

async function metric(sys, name) {
  const response = await request(`http://127.0.0.1:${sys.adminPort}/metrics`, { dispatcher: agent });
  const line = (await response.body.text()).split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/** ms until `check` holds (polled back to back; every 20 ms when `spaced`). */
async function until(check, { timeout = 30_000, spaced = false } = {}) {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeout) throw new Error(`not within ${timeout} ms`);
    if (spaced) await new Promise((r) => setTimeout(r, 20));
  }
  return performance.now() - started;
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function propagation(instances) {
  const [a] = instances;
  const delays = [];
  const perInstance = instances.map(() => []);
  for (let flip = 0; flip < FLIPS; flip++) {
    const to = flip % 2 === 0 ? 'green' : 'blue';
    const reply = await admin(a, 'POST', '/v1/services/bench/switch', { to, force: true });
    if (reply.status !== 200) throw new Error(`flip ${flip}: ${reply.status} ${JSON.stringify(reply.json)}`);
    const acked = performance.now();
    await Promise.all(
      instances.map(async (sys, i) => {
        // One request at a time with ~1 ms between: 5 back-to-back pollers would load the
        // instances' core enough to measure the pollers, not the propagation.
        while ((await body(sys.port)) !== to) await new Promise((r) => setTimeout(r, 1));
        const ms = performance.now() - acked;
        delays.push(ms);
        perInstance[i].push(ms);
      }),
    );
  }
  const row = { flips: FLIPS, instances: instances.length, p50: percentile(delays, 50), p99: percentile(delays, 99), max: Math.max(...delays) };
  row.perInstanceP50 = perInstance.map((d) => percentile(d, 50));
  row.perInstanceP99 = perInstance.map((d) => percentile(d, 99));
  console.log(
    `j: propagation, ${FLIPS} flips on A × ${instances.length} instances: p50 ${row.p50.toFixed(1)} ms, p99 ${row.p99.toFixed(1)} ms, max ${row.max.toFixed(1)} ms (per instance p50/p99, A first: ${row.perInstanceP50.map((v, i) => `${v.toFixed(1)}/${row.perInstanceP99[i].toFixed(1)}`).join(', ')}; A had applied it before its ack: its figures are the polling floor)`,
  );
  return row;
}

/** Light keep-alive traffic on every instance while `during` runs: counts requests and failures. */
async function underTraffic(instances, during) {
  let running = true;
  const counts = { requests: 0, failed: 0 };
  const loops = instances.map(async (sys) => {
    while (running) {
      try {
        const response = await request(`http://127.0.0.1:${sys.port}/`, { dispatcher: agent, headersTimeout: 5000, bodyTimeout: 5000 });
        await response.body.text();
        counts.requests++;
        if (response.statusCode !== 200) counts.failed++;
      } catch {
        counts.failed++;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  try {
    return { ...(await during()), ...counts };
  } finally {
    running = false;
    await Promise.all(loops);
  }
}

async function outage(etcd, instances, kind) {
  const [a] = instances;
  return underTraffic(instances, async () => {
    const served = await body(a.port);
    if (kind === 'kill') await stop(etcd.child);
    else process.kill(etcd.child.pid, 'SIGSTOP');
    const stopped = performance.now();
    const detected = await until(async () => (await Promise.all(instances.map((s) => metric(s, 'switchyard_store_connected')))).every((v) => v === 0), {
      spaced: true,
    });
    const t0 = performance.now();
    const refused = await admin(a, 'POST', '/v1/services/bench/switch', { to: served === 'blue' ? 'green' : 'blue', force: true });
    const refusedMs = performance.now() - t0;
    const stillServing = (await Promise.all(instances.map((s) => body(s.port)))).every((b) => b === served);
    const outageMs = performance.now() - stopped;
    if (kind === 'kill') await etcd.start();
    else process.kill(etcd.child.pid, 'SIGCONT');
    const back = performance.now();
    const to = served === 'blue' ? 'green' : 'blue';
    await until(async () => (await admin(a, 'POST', '/v1/services/bench/switch', { to, force: true })).status === 200, { spaced: true });
    const acceptedMs = performance.now() - back;
    await until(async () => (await Promise.all(instances.map((s) => body(s.port)))).every((b) => b === to), { spaced: true });
    const caughtUpMs = performance.now() - back;
    const row = {
      kind,
      detectedMs: detected,
      refusedStatus: refused.status,
      refusedCode: refused.json?.error?.code,
      refusedMs,
      stillServing,
      outageMs,
      acceptedMs,
      caughtUpMs,
    };
    console.log(
      `j: etcd ${kind === 'kill' ? 'killed' : 'stopped (SIGSTOP)'}: every instance reported store_connected 0 after ${detected.toFixed(0)} ms; a mutation answered ${refused.status} ${row.refusedCode} in ${refusedMs.toFixed(0)} ms; all kept serving: ${stillServing}; etcd back: mutation accepted after ${acceptedMs.toFixed(0)} ms, every instance serving it after ${caughtUpMs.toFixed(0)} ms`,
    );
    return row;
  });
}

/** Runs (j); returns { propagation, outages, rows } (rows: the hot-path comparison, for the main table). */
export async function runFleet(ctx) {
  const upstreams = [];
  const instances = [];
  let etcd;
  const result = { propagation: null, outages: [], rows: [] };
  try {
    etcd = await startEtcd(ctx);
    ctx.etcdUrl = etcd.url;
    const ports = {};
    for (const name of ['blue', 'green']) {
      ports[name] = await freePort();
      const child = start(LOAD_CORE, process.execPath, [join(ctx.root, 'bench/peers/node-upstream.mjs'), String(ports[name]), name, '127.0.0.1']);
      upstreams.push(child);
      await waitReady(`http://127.0.0.1:${ports[name]}/`, { child });
    }
    const services = benchService(`127.0.0.1:${ports.blue}`, `127.0.0.1:${ports.green}`);
    const dir = mkdtempSync(join(ctx.dir, 'fleet-'));
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < INSTANCES; i++) {
      const id = String.fromCharCode(97 + i);
      instances.push(await startSwitchyard(ctx, { name: `fleet-${id}`, services, extra: etcdState(ctx, dir, id) }));
    }
    result.propagation = await propagation(instances);
    result.outages.push(await outage(etcd, instances, 'kill'));
    result.outages.push(await outage(etcd, instances, 'pause'));
  } catch (err) {
    console.error(`j: fleet failed (${err.message})`);
    ctx.failures.push({ system: 'switchyard fleet', error: err.message });
  } finally {
    for (const sys of instances) await stop(sys.child);
    for (const child of upstreams) await stop(child);
  }
  try {
    if (!etcd) return result;
    // The hot path: one instance on the file store, one on etcd (its own prefix), same load.
    const dir = mkdtempSync(join(ctx.dir, 'fleet-hot-'));
    const starter = (name) =>
      name === 'switchyard-etcd'
        ? startSwitchyard(ctx, { name, extra: etcdState({ etcdUrl: etcd.url }, dir, 'hot').replace('/bench-fleet/', '/bench-hot/') })
        : startSwitchyard(ctx, { name });
    // Twice, in both orders: on a shared machine the second of two adjacent runs can be
    // systematically luckier or unluckier; both orders cancel that.
    result.rows = await runThroughput(ctx, ['a'], ['switchyard', 'switchyard-etcd'], starter);
    const reversed = await runThroughput(ctx, ['a'], ['switchyard-etcd', 'switchyard'], starter);
    result.rows.push(...reversed.map((row) => ({ ...row, scenario: `${row.scenario}, etcd first` })));
  } finally {
    await stop(etcd?.child);
  }
  return result;
}
