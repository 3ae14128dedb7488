// The load generator: wrk pinned to core 1, autocannon (when installed) as the fallback;
// h2load (nghttp2-client) for the HTTP/2 scenarios.
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { has, pinned } from './proc.mjs';

/** Core of the load generator (the system under test has core 0). */
export const LOAD_CORE = 1;

/** Which load generator is available: 'wrk', 'autocannon' or null. */
export function loadTool() {
  if (has('wrk')) return 'wrk';
  try {
    createRequire(import.meta.url).resolve('autocannon/autocannon.js');
    return 'autocannon';
  } catch {
    return null;
  }
}

function run(argv, seconds) {
  return new Promise((resolve, reject) => {
    // Bounded: a run that outlives its duration by 30 s is killed.
    execFile(
      argv[0],
      argv.slice(1),
      { encoding: 'utf8', timeout: (seconds + 30) * 1000, killSignal: 'SIGKILL', maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${argv.join(' ')}: ${err.message} ${stderr}`.trim()));
        else resolve(stdout);
      },
    );
  });
}

function toMs(text) {
  const m = /([\d.]+)(us|ms|s|m)\b/.exec(text ?? '');
  if (!m) return null;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2]];
}

/** Parses `wrk --latency` output. */
export function parseWrk(out) {
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    p50: toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1]),
    p99: toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1]),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    non2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0),
    socketErrors: /Socket errors:(.*)/.exec(out)?.[1]?.trim() ?? '',
  };
}

async function wrk(url, { connections, seconds, headers, script }) {
  const args = ['wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--latency', ...headers.flatMap((h) => ['-H', h]), ...(script ? ['-s', script] : []), url];
  return parseWrk(await run(pinned(LOAD_CORE, args), seconds));
}

async function autocannon(url, { connections, seconds, headers, body, method }) {
  const bin = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
  const args = [
    process.execPath,
    bin,
    '--json',
    '-c',
    String(connections),
    '-d',
    String(seconds),
    ...headers.flatMap((h) => ['-H', h]),
    ...(method ? ['-m', method] : []),
    ...(body ? ['-b', body] : []),
    url,
  ];
  const r = JSON.parse(await run(pinned(LOAD_CORE, args), seconds));
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    requests: r.requests.total,
    non2xx: r.non2xx,
    socketErrors: r.errors ? `errors ${r.errors}` : '',
  };
}

/**
 * One bounded load run against `url`: `{ rps, p50, p99 (ms), requests, non2xx, socketErrors }`.
 * A POST scenario passes both forms: `script` (wrk Lua) and `method` + `body` (autocannon).
 */
export function load(url, { connections = 50, seconds = 10, headers = [], script, body, method } = {}) {
  const tool = loadTool();
  if (tool === 'wrk') return wrk(url, { connections, seconds, headers, script });
  if (tool === 'autocannon') return autocannon(url, { connections, seconds, headers, body, method });
  throw new Error('no load generator: install wrk (apt-get install -y wrk) or autocannon (npm i -D autocannon)');
}

/** Parses h2load's summary (throughput, request counts, status classes); latencies come from its log file. */
export function parseH2load(out) {
  const total = Number(/requests: (\d+) total/.exec(out)?.[1] ?? 0);
  const ok = Number(/status codes: (\d+) 2xx/.exec(out)?.[1] ?? 0);
  const failed = Number(/(\d+) failed/.exec(out)?.[1] ?? 0);
  const errored = Number(/(\d+) errored/.exec(out)?.[1] ?? 0);
  return {
    rps: Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1] ?? 0),
    requests: total,
    non2xx: Math.max(0, total - ok - failed - errored),
    socketErrors: failed || errored ? `failed ${failed}, errored ${errored}` : '',
  };
}

/** p50 and p99 (ms) of an h2load `--log-file` (one `start  status  elapsed-µs` line per request). */
export function h2loadLatency(log) {
  const times = [];
  for (const line of log.split('\n')) {
    const elapsed = Number(line.split('\t')[2]);
    if (Number.isFinite(elapsed) && elapsed > 0) times.push(elapsed / 1000);
  }
  times.sort((a, b) => a - b);
  const at = (q) => (times.length ? times[Math.min(times.length - 1, Math.floor(q * times.length))] : null);
  return { p50: at(0.5), p99: at(0.99) };
}

/**
 * One bounded HTTP/2 load run against an https `url` with h2load: `clients` connections
 * with `streams` concurrent streams each, for `seconds`. Same result shape as `load`.
 */
export async function loadH2(url, { clients = 10, streams = 5, seconds = 10 } = {}) {
  if (!has('h2load')) throw new Error('h2load is not installed (apt-get install -y nghttp2-client)');
  const log = join(tmpdir(), `h2load-${process.pid}-${Date.now()}.log`);
  try {
    const argv = ['h2load', '-t1', `-c${clients}`, `-m${streams}`, '-D', String(seconds), `--log-file=${log}`, url];
    const result = parseH2load(await run(pinned(LOAD_CORE, argv), seconds));
    return { ...result, ...h2loadLatency(readFileSync(log, 'utf8')) };
  } finally {
    rmSync(log, { force: true });
  }
}

/** Median of the non-null values (lower middle for an even count), or null. */
export function median(values) {
  const sorted = values.filter((v) => v !== null && v !== undefined).sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)] : null;
}
