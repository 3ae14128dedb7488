// Scenario (i): cut-over under load. switchyard's `bench` service has two Node upstreams
// answering "blue" and "green"; a client process (core 1) loads it over keep-alive while
// switching stacks every 100 ms through the admin API. Failed requests and responses from
// the old stack after the switch was acknowledged must both be 0.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { benchService } from '../peers/configs.mjs';
import { startSwitchyard, VARIANTS } from '../peers/systems.mjs';
import { LOAD_CORE } from '../lib/load.mjs';
import { freePort, pinned, start, stop, waitReady } from '../lib/proc.mjs';

function client(ctx, sys) {
  const argv = pinned(LOAD_CORE, [
    process.execPath,
    join(ctx.root, 'bench/lib/cutover-client.mjs'),
    String(sys.port),
    String(sys.adminPort),
    String(ctx.seconds),
    '50',
    '100',
  ]);
  return new Promise((resolve, reject) => {
    execFile(argv[0], argv.slice(1), { encoding: 'utf8', timeout: (ctx.seconds + 30) * 1000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message} ${stderr}`.trim()));
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1)));
    });
  });
}

/**
 * Runs (i) against each switchyard variant named (the only systems here with a switch API;
 * default the plain one), with the worker id header on so stale answers are counted per
 * worker; returns result rows.
 */
export async function runCutover(ctx, names = ['switchyard']) {
  const rows = [];
  for (const name of names) rows.push(...(await runOne(ctx, name)));
  return rows;
}

async function runOne(ctx, name) {
  const upstreams = [];
  let sys;
  const rows = [];
  const variant = VARIANTS[name] ?? VARIANTS.switchyard;
  try {
    const ports = {};
    for (const name of ['blue', 'green']) {
      ports[name] = await freePort();
      const child = start(LOAD_CORE, process.execPath, [join(ctx.root, 'bench/peers/node-upstream.mjs'), String(ports[name]), name, '127.0.0.1']);
      upstreams.push(child);
      await waitReady(`http://127.0.0.1:${ports[name]}/`, { child });
    }
    sys = await startSwitchyard(ctx, {
      name,
      services: benchService(`127.0.0.1:${ports.blue}`, `127.0.0.1:${ports.green}`),
      extra: `${variant.yaml}\ndebug: { worker_header: true }`,
      env: variant.env,
      core: variant.core,
      root: variant.root ?? ctx.root,
    });
    for (let run = 0; run < ctx.runs; run++) {
      const r = await client(ctx, sys);
      rows.push({ system: sys.name, run: run + 1, ...r });
      const workers = Object.entries(r.perWorker)
        .map(([id, w]) => `worker ${id}: ${w.answers} answers, ${w.stale} stale`)
        .join('; ');
      console.log(
        `i: ${name} cut-over run ${run + 1}: ${Math.round(r.rps)} req/s, ${r.flips} flips (${r.flipsPerSecond.toFixed(1)}/s), failed ${r.failed}, stale ${r.stale}, ambiguous ${r.ambiguous} (${workers})${r.firstErrors.length ? ` (${r.firstErrors.join(', ')})` : ''}`,
      );
    }
  } catch (err) {
    console.error(`i: ${name} cut-over failed (${err.message})`);
    ctx.failures.push({ system: `${name} cut-over`, error: err.message });
  } finally {
    await stop(sys?.child);
    for (const child of upstreams) await stop(child);
  }
  return rows;
}
