// The load generator: wrk pinned to core 1, autocannon (when installed) as the fallback.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
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

/** Median of the non-null values (lower middle for an even count), or null. */
export function median(values) {
  const sorted = values.filter((v) => v !== null && v !== undefined).sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)] : null;
}
