// Bounded soak: switchyard under steady keep-alive load for `--minutes`, while the service
// flips every 500 ms, one target per stack flaps its health, the TLS certificate is
// rotated every 5 s and slow clients (slowloris heads, readers that never read) come and
// go. Samples RSS, open fds and event-loop lag at the start, every minute and at the end;
// exits 1 when a request failed or resources grew. Usage:
//   node bench/soak.mjs [--minutes 10] [--clients 20]
import { readdirSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { makeCert } from './lib/cert.mjs';
import { LOAD_CORE } from './lib/load.mjs';
import { freePort, rssKiB, start, stopAll, waitReady } from './lib/proc.mjs';
import { startSwitchyard } from './peers/systems.mjs';

const { values: opts } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, clients: { type: 'string', default: '20' } } });
const minutes = Number(opts.minutes);
const root = new URL('..', import.meta.url).pathname;
const ctx = { root, dir: mkdtempSync(join(tmpdir(), 'switchyard-soak-')), failures: [] };
ctx.cert = makeCert(join(ctx.dir, 'cert'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** An in-process target that answers `name` and whose /health flips between 200 and 503 every 3 s. */
async function flapping(name) {
  const server = createServer((req, res) => {
    if (req.url === '/health') res.writeHead(Math.floor(Date.now() / 3000) % 2 ? 503 : 200).end();
    else res.end(name);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, address: `127.0.0.1:${server.address().port}` };
}

const stable = {};
for (const name of ['blue', 'green']) {
  const port = await freePort();
  const child = start(LOAD_CORE, process.execPath, [join(root, 'bench/peers/node-upstream.mjs'), String(port), name, '127.0.0.1']);
  await waitReady(`http://127.0.0.1:${port}/`, { child });
  stable[name] = `127.0.0.1:${port}`;
}
const flappers = { blue: await flapping('blue'), green: await flapping('green') };
const services = `  - name: bench
    paths: ["/"]
    health_check: { path: /health, interval: 500ms, response_timeout: 300ms, healthy_threshold: 1, unhealthy_threshold: 1 }
    stacks:
      blue: { targets: ["${stable.blue}", "${flappers.blue.address}"] }
      green: { targets: ["${stable.green}", "${flappers.green.address}"] }
    active: blue
`;
const sy = await startSwitchyard(ctx, { services, extra: 'limits: { header_timeout: 2s, request_timeout: 5s }' });
if (process.env.SOAK_DEBUG) setInterval(() => console.log(readdirSync(`/proc/${sy.pid}/fd`).length), 5000).unref();
const admin = `http://127.0.0.1:${sy.adminPort}`;
console.log(`soak: ${minutes} min, ${opts.clients} clients; switchyard pid ${sy.pid}, admin ${admin}`);

const counts = { ok: 0, non2xx: 0, errors: 0, flips: 0, flipsRefused: 0, rotations: 0, rotationFailures: 0, slowClients: 0 };
const firstErrors = [];
const noteError = (what) => firstErrors.length < 10 && firstErrors.push(what);
let running = true;

async function loadLoop(pool) {
  while (running) {
    try {
      const { statusCode, body } = await pool.request({ path: '/', method: 'GET' });
      const text = await body.text();
      if (statusCode === 200) counts.ok++;
      else {
        counts.non2xx++;
        noteError(`${statusCode} ${text.slice(0, 160)}`);
      }
    } catch (err) {
      counts.errors++;
      noteError(err.code ?? err.message);
    }
  }
}

async function flipLoop() {
  let to = 'green';
  while (running) {
    const res = await fetch(`${admin}/v1/services/bench/switch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ to }),
    }).catch(() => null);
    if (res?.status === 200) counts.flips++;
    else counts.flipsRefused++;
    await res?.arrayBuffer();
    to = to === 'green' ? 'blue' : 'green';
    await sleep(500);
  }
}

/** The SHA-256 fingerprint of the certificate the TLS listener serves now. */
function servedFingerprint() {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: sy.tlsPort, servername: 'localhost', rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.on('error', reject);
  });
}

async function rotateLoop() {
  while (running) {
    await sleep(5000);
    try {
      const before = await servedFingerprint();
      const res = await fetch(`${admin}/v1/certificates/self-signed`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'bench', hosts: ['localhost'], days: 1 }),
      });
      await res.arrayBuffer();
      if (res.status !== 200 && res.status !== 201) throw new Error(`status ${res.status}`);
      if ((await servedFingerprint()) === before) throw new Error('rotated certificate not served');
      counts.rotations++;
    } catch (err) {
      counts.rotationFailures++;
      noteError(`rotation: ${err.message}`);
    }
  }
}

/** Every second: one slowloris head (a byte every 200 ms) and one reader that never reads a 16 KB answer. */
function slowClients() {
  const timer = setInterval(() => {
    counts.slowClients += 2;
    const loris = connect(sy.port, '127.0.0.1');
    const head = `GET / HTTP/1.1\r\nHost: slow\r\nX-Slow: ${'a'.repeat(200)}`;
    let i = 0;
    const drip = setInterval(() => (loris.writable && i < head.length ? loris.write(head[i++]) : clearInterval(drip)), 200);
    loris.on('error', () => undefined);
    loris.on('close', () => clearInterval(drip));
    const reader = connect(sy.port, '127.0.0.1', () => reader.write('GET /16k HTTP/1.1\r\nHost: slow\r\n\r\n'.repeat(50)));
    reader.pause();
    reader.on('error', () => undefined);
    setTimeout(() => reader.destroy(), 8000);
  }, 1000);
  return () => clearInterval(timer);
}

async function sample(label) {
  const text = await fetch(`${admin}/metrics`).then((r) => r.text());
  const lag = Number(/^nodejs_eventloop_lag_p99_seconds (\S+)/m.exec(text)?.[1] ?? NaN) * 1000;
  return {
    label,
    seconds: Math.round((Date.now() - started) / 1000),
    rssMiB: Math.round((rssKiB(sy.pid) ?? 0) / 1024),
    fds: readdirSync(`/proc/${sy.pid}/fd`).length,
    lagP99Ms: Number(lag.toFixed(2)),
    requests: counts.ok + counts.non2xx + counts.errors,
  };
}

const started = Date.now();
const pool = new Pool(`http://127.0.0.1:${sy.port}`, { connections: Number(opts.clients), pipelining: 1 });
const loops = Array.from({ length: Number(opts.clients) }, () => loadLoop(pool));
const background = [flipLoop(), rotateLoop()];
const stopSlow = slowClients();

await sleep(10_000);
const samples = [await sample('start')];
const end = started + minutes * 60_000;
while (Date.now() < end) {
  await sleep(Math.min(60_000, end - Date.now()));
  samples.push(await sample(Date.now() >= end ? 'end' : 'minute'));
}
running = false;
stopSlow();
await Promise.all([...loops, ...background]);
await pool.close();

const first = samples[0];
const last = samples.at(-1);
console.log('\n| sample | s | RSS MiB | fds | event-loop lag p99 ms | requests |\n|---|---:|---:|---:|---:|---:|');
for (const s of samples) console.log(`| ${s.label} | ${s.seconds} | ${s.rssMiB} | ${s.fds} | ${s.lagP99Ms} | ${s.requests} |`);
console.log(`\n${JSON.stringify(counts)}${firstErrors.length ? `\nfirst errors: ${firstErrors.join(', ')}` : ''}`);
const problems = [];
if (counts.errors || counts.non2xx) problems.push(`${counts.errors} socket errors and ${counts.non2xx} non-2xx answers`);
if (counts.rotationFailures) problems.push(`${counts.rotationFailures} certificate rotations failed`);
if (last.rssMiB > first.rssMiB * 1.5) problems.push(`RSS grew from ${first.rssMiB} to ${last.rssMiB} MiB`);
if (last.fds > first.fds + 50) problems.push(`open fds grew from ${first.fds} to ${last.fds}`);
const out = join(root, 'bench/results');
mkdirSync(out, { recursive: true });
const file = join(out, `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ minutes, clients: Number(opts.clients), samples, counts, firstErrors, problems }, null, 2));
console.log(`written: ${file}`);
for (const f of Object.values(flappers)) f.server.close();
stopAll();
rmSync(ctx.dir, { recursive: true, force: true });
if (problems.length) {
  console.error(`soak FAILED: ${problems.join('; ')}`);
  process.exit(1);
}
console.log('soak passed');
process.exit(0);
