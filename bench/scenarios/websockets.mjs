// Scenario (h): N idle WebSockets through each proxy. RSS of the proxy before and after
// they open gives the memory per connection; nginx is the reference.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startSystem } from '../peers/systems.mjs';
import { LOAD_CORE } from '../lib/load.mjs';
import { freePort, pinned, rssKiB, start, stop, waitReady } from '../lib/proc.mjs';

const settle = (ms) => new Promise((r) => setTimeout(r, ms));

/** Opens `count` WebSockets from a separate client process on the load core; resolves once all settled. */
function openClients(ctx, url, count, fds) {
  const argv = [
    'sh',
    '-c',
    `ulimit -n ${fds} && exec "$@"`,
    'sh',
    ...pinned(LOAD_CORE, [process.execPath, join(ctx.root, 'bench/lib/ws-clients.mjs'), url, String(count)]),
  ];
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (c) => (err += c));
  const result = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`clients did not finish opening in 120 s ${err}`)), 120_000);
    child.stdout.on('data', (c) => {
      out += c;
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      resolve(JSON.parse(out.split('\n')[0]));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`clients exited with ${code}: ${err.trim()}`));
    });
  });
  return { child, result };
}

/** The hard open-file limit of this shell (a container may forbid raising it). */
function hardFdLimit() {
  const out = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim();
  return out === 'unlimited' ? Infinity : Number(out);
}

/** Runs (h) for `systems`; returns rows { system, opened, failed, rssBefore, rssAfter (KiB), perConnKiB }. */
export async function runWebSockets(ctx, systems, requested) {
  const rows = [];
  // Each proxy holds two sockets per WebSocket (client and upstream side), plus headroom;
  // where the hard limit is lower, fewer WebSockets are opened, and the run says so.
  const hard = hardFdLimit();
  const count = Math.min(requested, Math.floor((hard - 1000) / 2));
  if (count < requested) console.log(`h: the hard open-file limit is ${hard}: ${count} WebSockets per proxy instead of ${requested}`);
  const fds = Math.min(hard, count * 2 + 1000);
  for (const name of systems) {
    let upstream;
    let sys;
    let clients;
    try {
      const upstreamPort = await freePort();
      upstream = start(LOAD_CORE, process.execPath, [join(ctx.root, 'bench/peers/ws-upstream.mjs'), String(upstreamPort)], { fds });
      await waitReady(`http://127.0.0.1:${upstreamPort}/`, { child: upstream });
      const extra = name.startsWith('switchyard') ? `limits: { max_connections: ${count * 2} }` : undefined;
      sys = await startSystem(name, ctx, { upstreamPort, fds, ...(extra ? { extra } : {}) });
      await settle(1000);
      const rssBefore = rssKiB(sys.pid);
      clients = openClients(ctx, `ws://127.0.0.1:${sys.port}/`, count, fds);
      const { opened, failed, firstErrors } = await clients.result;
      await settle(2000);
      const rssAfter = rssKiB(sys.pid);
      const perConnKiB = opened ? (rssAfter - rssBefore) / opened : null;
      rows.push({ system: name, opened, failed, rssBefore, rssAfter, perConnKiB });
      console.log(
        `h: ${name}: ${opened} open, ${failed} failed${firstErrors.length ? ` (${firstErrors.join(', ')})` : ''}, RSS ${Math.round(rssBefore / 1024)} → ${Math.round(rssAfter / 1024)} MiB, ${perConnKiB?.toFixed(1)} KiB per connection`,
      );
    } catch (err) {
      console.error(`h: ${name} failed (${err.message})`);
      ctx.failures.push({ system: `${name} WebSockets`, error: err.message });
    } finally {
      clients?.child.kill('SIGKILL');
      await stop(sys?.child);
      await stop(upstream);
    }
  }
  return rows;
}
