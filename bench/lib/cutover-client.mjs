// Load + flipper for scenario (i), in one process so both read the same clock.
// `connections` keep-alive clients GET / while the flipper switches `bench` between blue
// and green every `interval` ms. Prints one JSON line: counts and every flip.
// Usage: cutover-client.mjs <proxyPort> <adminPort> <seconds> [connections] [interval]
import { Pool, request } from 'undici';

const [proxyPort, adminPort, seconds, connections = '50', interval = '100'] = process.argv.slice(2).map(Number);
const pool = new Pool(`http://127.0.0.1:${proxyPort}`, { connections, pipelining: 1 });
const flips = [{ sent: -Infinity, acked: -Infinity, to: 'blue', status: 200 }];
const answers = []; // [startedAt, endedAt, body, worker] flattened (worker: X-Switchyard-Worker, '' when not sent)
const FIELDS = 4;
let failed = 0;
const firstErrors = [];
let running = true;

async function client() {
  while (running) {
    const startedAt = performance.now();
    try {
      const { statusCode, headers, body } = await pool.request({ path: '/', method: 'GET' });
      const text = await body.text();
      if (statusCode < 200 || statusCode > 299) {
        failed++;
        if (firstErrors.length < 5) firstErrors.push(`status ${statusCode}`);
      } else answers.push(startedAt, performance.now(), text, String(headers['x-switchyard-worker'] ?? ''));
    } catch (err) {
      failed++;
      if (firstErrors.length < 5) firstErrors.push(err.code ?? err.message);
    }
  }
}

async function flipper(until) {
  let to = 'green';
  while (performance.now() < until) {
    const sent = performance.now();
    let status = 0;
    try {
      const res = await request(`http://127.0.0.1:${adminPort}/v1/services/bench/switch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ to }),
      });
      await res.body.text();
      status = res.statusCode;
    } catch (err) {
      if (firstErrors.length < 5) firstErrors.push(`switch: ${err.code ?? err.message}`);
    }
    flips.push({ sent, acked: performance.now(), to, status });
    to = to === 'green' ? 'blue' : 'green';
    const wait = interval - (performance.now() - sent);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

const t0 = performance.now();
const clients = Array.from({ length: connections }, client);
await flipper(t0 + seconds * 1000);
running = false;
await Promise.all(clients);
const elapsed = (performance.now() - t0) / 1000;
await pool.close();

// A response is stale when it came from a stack other than the one the last flip
// acknowledged before the request started, and no flip was in flight while it ran
// (sent before it ended, acknowledged after it started): those are ambiguous, not counted.
let stale = 0;
let ambiguous = 0;
let f = 0;
/** Per worker (X-Switchyard-Worker): answers and stale answers. */
const perWorker = {};
const ok = flips.filter((x) => x.status === 200);
const order = [];
for (let i = 0; i < answers.length; i += FIELDS) order.push(i);
order.sort((a, b) => answers[a] - answers[b]);
for (const i of order) {
  const startedAt = answers[i];
  const endedAt = answers[i + 1];
  const id = answers[i + 3] || '-';
  perWorker[id] ??= { answers: 0, stale: 0 };
  const worker = perWorker[id];
  worker.answers++;
  while (f + 1 < ok.length && ok[f + 1].acked < startedAt) f++;
  const inFlight = ok.some((x, j) => j > f && x.sent < endedAt && x.acked > startedAt);
  if (inFlight) ambiguous++;
  else if (answers[i + 2] !== ok[f].to) {
    stale++;
    worker.stale++;
  }
}
const latencies = flips
  .slice(1)
  .map((x) => x.acked - x.sent)
  .sort((a, b) => a - b);
console.log(
  JSON.stringify({
    requests: answers.length / FIELDS + failed,
    rps: (answers.length / FIELDS + failed) / elapsed,
    flips: flips.length - 1,
    flipsRefused: flips.filter((x) => x.status !== 200).length,
    flipsPerSecond: (flips.length - 1) / elapsed,
    flipP50: latencies[Math.floor(latencies.length * 0.5)] ?? null,
    flipP99: latencies[Math.floor(latencies.length * 0.99)] ?? null,
    failed,
    firstErrors,
    stale,
    ambiguous,
    perWorker,
  }),
);
