import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Switchyard } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';

/** A fresh temp dir for state and certificates. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'switchyard-test-'));
}

/** Starts a whole switchyard on free ports; `extra` is merged over a minimal config. */
export async function startSwitchyard(services: unknown[], extra: Record<string, unknown> = {}, dir = tempDir()): Promise<Switchyard> {
  const config = validateConfig({
    listeners: [{ name: 'http', port: 0, address: '127.0.0.1' }],
    admin: { listen: '127.0.0.1:0' },
    state: { path: join(dir, 'state.json') },
    certs_dir: join(dir, 'certs'),
    logging: { level: 'silent' },
    services,
    ...extra,
  });
  return Switchyard.start(config, pino({ level: 'silent' }));
}

/** Polls `predicate` until it holds or `ms` pass. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
