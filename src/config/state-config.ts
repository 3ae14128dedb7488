import { z } from 'zod';
import { parseDuration } from './duration.js';

const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'must be a duration (integer ms or e.g. "2s")' });
    return z.NEVER;
  }
  return ms;
});

const endpoint = z.string().regex(/^https?:\/\/[^/\s]+\/?$/, 'must be an http:// or https:// URL of an etcd member, e.g. http://10.0.0.5:2379');

/** The `state:` block with `store: etcd` (SPEC §9): a fleet's shared state. */
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

/** `state` with the embedded file store: one JSON file, this instance alone. */
export const fileStateConfig = z
  .object({
    /** `file` (default) or `etcd` (SPEC §9). */
    store: z.literal('file').default('file'),
    /** The state file. */
    path: z.string().default('state/switchyard.json'),
  })
  .strict();

/** The `state:` block: the file store unless `store: etcd`. */
export const stateConfig = z.discriminatedUnion('store', [fileStateConfig, etcdStateConfig], { error: 'store must be "file" or "etcd"' });
