import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';
import { parseDuration } from '../../config/duration.js';
import type { EtcdStateStoreOptions } from './store.js';

const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'must be a duration (integer ms or e.g. "2s")' });
    return z.NEVER;
  }
  return ms;
});

const endpoint = z.string().regex(/^https?:\/\/[^/\s]+\/?$/, 'must be an http:// or https:// URL of an etcd member, e.g. http://10.0.0.5:2379');

/**
 * The `state:` block with `store: etcd` (SPEC §9). Meant to join the `store: file` block
 * of src/config/schema.ts as a discriminated union on `store` when the store is wired in.
 */
export const etcdStateConfig = z
  .object({
    store: z.literal('etcd'),
    /** Client URLs of the etcd cluster members. */
    endpoints: z.array(endpoint).min(1, 'needs at least one etcd endpoint'),
    /** Every key lives under this prefix. */
    prefix: z.string().startsWith('/', 'must start with "/"').default('/switchyard/'),
    /** Local cache of the last known state, served when etcd is unreachable at start. */
    path: z.string().default('state/switchyard.json'),
    /** PEM files: the CA that signed etcd's certificate, and a client certificate and key for --client-cert-auth. */
    tls: z.object({ ca: z.string().optional(), cert: z.string().optional(), key: z.string().optional() }).strict().optional(),
    /** Environment variables holding the etcd user and password (etcd auth). */
    username_env: z.string().optional(),
    password_env: z.string().optional(),
    /** This instance's id in the fleet; default `<hostname>:<admin port>`. */
    instance_id: z.string().min(1).optional(),
    /** How long `?wait=all` waits for every member. */
    wait_timeout: duration.default(5000),
  })
  .strict()
  .superRefine((state, ctx) => {
    if (Boolean(state.tls?.cert) !== Boolean(state.tls?.key)) ctx.addIssue({ code: 'custom', path: ['tls'], message: 'cert and key go together' });
    if (Boolean(state.username_env) !== Boolean(state.password_env)) {
      ctx.addIssue({ code: 'custom', path: [state.username_env ? 'password_env' : 'username_env'], message: 'username_env and password_env go together' });
    }
  });

/** A validated `state:` block for etcd. */
export type EtcdStateConfig = z.output<typeof etcdStateConfig>;

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
