import type { Logger } from 'pino';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { resolveEtcdOptions } from './etcd/config.js';
import { FleetStateStore } from './etcd/fleet-store.js';
import { EtcdStateStore } from './etcd/store.js';
import { FileStateStore } from './file-store.js';

/**
 * The store `state.store` names: the state file, or etcd shared by a fleet. A missing TLS
 * file or credential variable is a ConfigError naming the key (exit 2), found before
 * anything starts.
 */
export function createStateStore(config: Config, log: Logger, env: NodeJS.ProcessEnv = process.env): FileStateStore | FleetStateStore {
  const state = config.state;
  switch (state.store) {
    case 'file':
      return new FileStateStore(state.path, log);
    case 'etcd': {
      let options: ReturnType<typeof resolveEtcdOptions>;
      try {
        options = resolveEtcdOptions(state, { env, adminListen: config.admin.listen });
      } catch (err) {
        throw new ConfigError([(err as Error).message]);
      }
      return new FleetStateStore(new EtcdStateStore({ ...options, log }), { waitTimeout: options.waitTimeout, log });
    }
    default: {
      const never: never = state;
      return never;
    }
  }
}
