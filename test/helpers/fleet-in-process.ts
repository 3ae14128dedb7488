import { join } from 'node:path';
import { pino } from 'pino';
import { Switchyard } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { track } from './cleanup.js';
import { tempDir } from './switchyard.js';

/** Starts an in-process fleet instance `id` on etcd (`prefix`) with one plain listener, silent, stopped after the test (track). */
export async function fleetSwitchyard(endpoints: readonly string[], prefix: string, id: string, services: unknown[]): Promise<Switchyard> {
  const dir = tempDir();
  const document = {
    listeners: [{ name: 'http', port: 0, address: '127.0.0.1' }],
    admin: { listen: '127.0.0.1:0' },
    state: { store: 'etcd', endpoints, prefix, path: join(dir, 'state.json'), instance_id: id },
    certs_dir: join(dir, 'certs'),
    logging: { level: 'silent' },
    services,
  };
  return track(await Switchyard.start(validateConfig(document), pino({ level: 'silent' })));
}
