// Child processes of the harness: pinned to a core, always cleaned up (exit, error, SIGINT).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';

const children = new Set();

/** True when `taskset` exists, so processes can be pinned to a core. */
export const hasTaskset = spawnSync('taskset', ['-V']).status === 0;

/** True when `command` is on PATH. */
export function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

/** Debian packages of the tools whose package is named otherwise. */
const PACKAGES = { h2load: 'nghttp2-client' };

/** Installs Debian packages for the tools that are missing (nginx, haproxy, wrk, h2load), and says so. */
export function ensureTools(tools) {
  const missing = tools.filter((t) => !has(t)).map((t) => PACKAGES[t] ?? t);
  if (missing.length === 0) return;
  if (!has('apt-get')) {
    console.log(`missing ${missing.join(', ')} and no apt-get: those peers are skipped`);
    return;
  }
  console.log(`installing with apt-get: ${missing.join(' ')}`);
  spawnSync('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing.join(' ')}`], { stdio: 'inherit' });
}

/** A free loopback port (bind port 0, read it, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net
      .createServer()
      .on('error', reject)
      .listen(0, '127.0.0.1', () => {
        const { port } = server.address();
        server.close(() => resolve(port));
      });
  });
}

/** `argv` prefixed with taskset for `core` (null: not pinned). */
export function pinned(core, argv) {
  return hasTaskset && core !== null ? ['taskset', '-c', String(core), ...argv] : argv;
}

/**
 * Spawns a command pinned to `core`, killed when the harness exits. `fds` raises the
 * open-file limit first (10,000 WebSockets need more than the default).
 */
export function start(core, command, args, { fds, env } = {}) {
  let argv = pinned(core, [command, ...args]);
  if (fds) argv = ['sh', '-c', `ulimit -n ${fds} && exec "$@"`, 'sh', ...argv];
  // Its own process group, so stopping it also stops what it forked (nginx's worker
  // outlives a killed master otherwise).
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env }, detached: true });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr = (stderr + c).slice(-4000)));
  child.lastError = () => stderr.trim();
  children.add(child);
  // Forget it once its whole group is gone: a dead nginx master can leave a worker behind.
  child.on('exit', () => {
    try {
      process.kill(-child.pid, 0);
    } catch {
      children.delete(child);
    }
  });
  return child;
}

function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Kills one child with its process group and waits for it to be gone. */
export function stop(child) {
  if (!child) return Promise.resolve();
  const exited = child.exitCode !== null || child.signalCode !== null;
  killGroup(child);
  return exited ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve));
}

/** Kills every child started here with its group (synchronous: safe in an 'exit' handler). */
export function stopAll() {
  for (const child of children) killGroup(child);
}
process.on('exit', stopAll);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping every child process`);
    stopAll();
    process.exit(130);
  });
}

/**
 * Resolves once `url` answers 2xx; throws after `ms`, or as soon as `child` exits
 * (its last stderr lines in the message).
 */
export async function waitReady(url, { ms = 15_000, child, headers } = {}) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`exited with ${child.exitCode}: ${child.lastError().split('\n').slice(-3).join(' | ')}`);
    try {
      const r = await fetch(url, { headers, signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not ready after ${ms} ms: ${url}`);
}

/** Resident memory in KiB of a process and its children (nginx: master + worker), or null. */
export function rssKiB(pid) {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS'));
    let total = Number(line.split(/\s+/)[1]);
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    for (const kid of kids ? kids.split(' ') : []) total += rssKiB(Number(kid)) ?? 0;
    return total;
  } catch {
    return null;
  }
}

/** Clock ticks per second of /proc/<pid>/stat times. */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** CPU time (user + system) in µs of one process alone, or null. */
export function cpuSelfMicros(pid) {
  try {
    // Fields after the parenthesised command: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK;
  } catch {
    return null;
  }
}

/**
 * CPU time (user + system) in µs of a process and its children (nginx: master + worker;
 * switchyard: primary + workers), or null. A child that exited in between is not counted.
 */
export function cpuMicros(pid) {
  try {
    let total = cpuSelfMicros(pid);
    if (total === null) return null;
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    for (const kid of kids ? kids.split(' ') : []) total += cpuMicros(Number(kid)) ?? 0;
    return total;
  } catch {
    return null;
  }
}
