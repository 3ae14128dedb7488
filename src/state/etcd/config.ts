import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { EtcdStateConfig } from '../../config/state-config.js';
import type { EtcdStateStoreOptions } from './store.js';

/** What resolving needs from the process. */
export interface ResolveContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The admin listener (host:port): the default instance id is `<hostname>:<port>`. */
  readonly adminListen: string;
  readonly hostname?: string;
}

/**
 * Turns the config into store options: reads the TLS files and the credentials from the
 * environment. Throws an Error naming the config path when one is missing.
 */
export function resolveEtcdOptions(config: EtcdStateConfig, context: ResolveContext): EtcdStateStoreOptions & { readonly waitTimeout: number } {
  const read = (field: 'ca' | 'cert' | 'key') => {
    const file = config.tls?.[field];
    if (!file) return undefined;
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`state.tls.${field}: cannot read ${file} (${(err as Error).message})`);
    }
  };
  const fromEnv = (field: 'username_env' | 'password_env') => {
    const name = config[field];
    if (!name) return undefined;
    const value = context.env[name];
    if (!value) throw new Error(`state.${field}: environment variable ${name} is not set`);
    return value;
  };
  const username = fromEnv('username_env');
  const password = fromEnv('password_env');
  const port = context.adminListen.slice(context.adminListen.lastIndexOf(':') + 1);
  const tls = config.tls ? { ca: read('ca'), cert: read('cert'), key: read('key') } : undefined;
  return {
    endpoints: config.endpoints,
    prefix: config.prefix,
    cachePath: config.path,
    instanceId: config.instance_id ?? `${context.hostname ?? hostname()}:${port}`,
    tls,
    auth: username !== undefined && password !== undefined ? { username, password } : undefined,
    waitTimeout: config.wait_timeout,
  };
}
