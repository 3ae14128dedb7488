import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Switchyard } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { trackInTest } from './cleanup.js';

/** A fresh temp dir for state and certificates. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'switchyard-test-'));
}

/** A minimal config on free loopback ports, its state and certificates in `dir`, logging silent; `extra` is merged over it. */
export function testConfig(services: unknown[], extra: Record<string, unknown> = {}, dir = tempDir()): Config {
  return validateConfig({
    listeners: [{ name: 'http', port: 0, address: '127.0.0.1' }],
    admin: { listen: '127.0.0.1:0' },
    state: { path: join(dir, 'state.json') },
    certs_dir: join(dir, 'certs'),
    logging: { level: 'silent' },
    services,
    ...extra,
  });
}

/** Starts a whole switchyard on free ports; `extra` is merged over a minimal config (testConfig). Started in a test, it is stopped when the test ends. */
export async function startSwitchyard(services: unknown[], extra: Record<string, unknown> = {}, dir = tempDir()): Promise<Switchyard> {
  return trackInTest(await Switchyard.start(testConfig(services, extra, dir), pino({ level: 'silent' })));
}

/** Polls `predicate` until it holds, or rejects once `ms` pass (or when `predicate` throws). */
export async function waitFor(predicate: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`${what} not met in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
