import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { trackInTest } from './cleanup.js';
import { waitFor } from './switchyard.js';

/** The built CLI (`npm test` builds it first). */
export const CLI = join(import.meta.dirname, '../../dist/cli/main.js');

/** A free loopback port (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** switchyard as a real child process, for signals: SIGKILL, SIGTERM. */
export interface ChildSwitchyard {
  readonly child: ChildProcess;
  readonly proxyPort: number;
  readonly adminUrl: string;
  readonly configPath: string;
  /** stderr and stdout so far (for failure messages). */
  output(): string;
  /** Resolves with the exit code (or the signal name) once the process is gone. */
  readonly exited: Promise<number | string>;
}

/** Writes a config for `services` (YAML lines under `services:`) into `dir`; ports are fixed so a restart reuses them. */
export async function writeChildConfig(dir: string, services: string, extra = ''): Promise<{ configPath: string; proxyPort: number; adminPort: number }> {
  const proxyPort = await freePort();
  const adminPort = await freePort();
  const configPath = join(dir, 'switchyard.yaml');
  writeFileSync(
    configPath,
    `listeners:\n  - { name: http, port: ${proxyPort}, address: 127.0.0.1 }\nadmin: { listen: "127.0.0.1:${adminPort}" }\nstate: { path: ${join(dir, 'state.json')} }\ncerts_dir: ${join(dir, 'certs')}\nlogging: { level: warn }\n${extra}\nservices:\n${services}`,
  );
  return { configPath, proxyPort, adminPort };
}

/** Runs the CLI once with `args` (no admin token in its environment; killed after `timeout` ms); resolves with its exit code and output. */
export function runCli(args: string[], timeout = 15_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, SWITCHYARD_ADMIN_TOKEN: '' }, timeout }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A `switchyard start` child process, what it printed so far, and its exit. */
export interface SpawnedSwitchyard {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | string>;
}

/**
 * Spawns `switchyard start --config configPath` (with `env` over this process's) and waits
 * until the admin API at `adminUrl` answers /healthz 200, or the child dies. Started in a
 * test, the child is SIGKILLed (if still running) when the test ends.
 */
export async function spawnSwitchyard(configPath: string, adminUrl: string, env?: NodeJS.ProcessEnv): Promise<SpawnedSwitchyard> {
  const child = spawn(process.execPath, [CLI, 'start', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  trackInTest({
    close: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  });
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`switchyard exited with ${child.exitCode}: ${output}`);
      return fetch(`${adminUrl}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
    },
    15_000,
    'switchyard ready',
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${output}`);
  });
  return { child, output: () => output, exited };
}

/**
 * Starts `switchyard start --config` and waits until /healthz answers 200 (or the child dies).
 * Started in a test, the child is SIGKILLed (if still running) when the test ends.
 */
export async function startChild(configPath: string, proxyPort: number, adminPort: number): Promise<ChildSwitchyard> {
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const { child, output, exited } = await spawnSwitchyard(configPath, adminUrl);
  return { child, proxyPort, adminUrl, configPath, output, exited };
}
