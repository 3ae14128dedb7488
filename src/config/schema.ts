import { z } from 'zod';
import { normalizeHostName } from '../net/host-name.js';
import { acme, certificate } from './acme-schema.js';
import { analysisSchema, gatesSchema, mirrorSchema, overridesSchema, rolloutSchema, STACK_ROLES } from './delivery-schema.js';
import { durationSchema } from './duration.js';
import { healthCheck } from './health-check-schema.js';
import { limitsSchema, upstreamSchema } from './limits-schema.js';
import { pathPrefix, port, positiveInt } from './primitives.js';
import { RELOADS, RESTART_ONLY } from './reload-marks.js';
import { stateConfig } from './state-config.js';
import { targetProblem } from './target-address.js';

export { RELOADS, RESTART_ONLY, type ReloadMode } from './reload-marks.js';

const duration = durationSchema;

const WORKERS_MESSAGE = 'must be "auto" or a number of workers (0-256)';

/** `host:port` of `admin.listen`, with IPv6 hosts in brackets (upstream targets follow target-address.ts). */
export const TARGET_PATTERN = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;
/** An upstream target: the one rule of src/config/target-address.ts (also the targets API's and the state file's). */
const target = z.string().superRefine((value, ctx) => {
  const problem = targetProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

const hostName = z
  .string()
  .min(1)
  .regex(/^(\*\.)?[A-Za-z0-9_.-]+$/, 'must be a host name, optionally with a leading "*."')
  .transform(normalizeHostName);

const stack = z
  .object({
    /** Upstream targets as host:port. */
    targets: z.array(target).default([]),
  })
  .strict();

const service = z
  .object({
    /** Unique service name, used in the admin API and metrics. */
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, "_", "." or "-"'),
    /** Host names (exact or leading wildcard); none makes this the default service. */
    hosts: z.array(hostName).default([]),
    /** Path prefixes; the longest match wins (default ["/"]). */
    paths: z.array(pathPrefix).min(1).default(['/']),
    /** Target selection within a stack. */
    balance: z.enum(['round_robin', 'least_conn', 'random_two']).default('round_robin'),
    /** `cookie` keeps a client on its stack while weights are split. */
    sticky: z.enum(['none', 'cookie']).default('none'),
    health_check: healthCheck.optional(),
    /** Two or more named stacks of targets. */
    stacks: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'stack names are letters, digits, "_" or "-"'), stack),
    /** Initially active stack; runtime state wins after the first switch. */
    active: z.string().optional(),
    /** After a switch, WebSockets on the old stack are closed (1001) after this long. */
    websocket_drain: duration.optional(),
    /** Serve from another stack when the active one has no healthy target. */
    failover: z.boolean().default(false),
    /** Upstream response timeout (504 beyond it); default: upstream.response_timeout. */
    response_timeout: duration.optional(),
    /** Default steps of rollouts of this service (SPEC §10). */
    rollout: rolloutSchema.optional(),
    /** How rollouts judge the new stack (`{"analysis":"default"}` steps run it). */
    analysis: analysisSchema.prefault({}),
    /** Webhooks a rollout waits for: before its first step and before the new stack gets 100 %. */
    gates: gatesSchema.prefault({}),
    /** Requests matching a header or cookie go to a given stack, regardless of weights and sticky cookies. */
    overrides: overridesSchema,
    /** Copies a share of idempotent requests to another stack, fire-and-forget. */
    mirror: mirrorSchema.optional(),
  })
  .strict()
  .superRefine((svc, ctx) => {
    const names = Object.keys(svc.stacks);
    if (names.length === 0) ctx.addIssue({ code: 'custom', path: ['stacks'], message: 'needs at least one stack' });
    if (svc.active !== undefined && !names.includes(svc.active)) {
      ctx.addIssue({ code: 'custom', path: ['active'], message: `must name one of the stacks (${names.join(', ')})` });
    }
    const known = (to: string) => STACK_ROLES.includes(to) || names.includes(to);
    const message = `must be "active", "standby" or one of the stacks (${names.join(', ')})`;
    svc.overrides.forEach((override, i) => {
      if (!known(override.to)) ctx.addIssue({ code: 'custom', path: ['overrides', i, 'to'], message });
    });
    if (svc.mirror !== undefined && !known(svc.mirror.to)) ctx.addIssue({ code: 'custom', path: ['mirror', 'to'], message });
  });

const listener = z
  .object({
    /** Listener name, used in logs. */
    name: z.string().min(1),
    port,
    /** Bind address (default all interfaces). */
    address: z.string().default('0.0.0.0'),
    /** Terminate TLS with certificates from certs_dir (SNI). */
    tls: z.boolean().default(false),
    /** Certificate name served when SNI matches nothing. */
    default_cert: z.string().optional(),
    /** `standby` sends every request to the stack that is not active (preview). */
    route_to: z.enum(['active', 'standby']).default('active'),
    /** Strict-Transport-Security max-age in seconds on TLS listeners (off by default). */
    hsts_max_age: z.number().int().min(0).optional(),
    /**
     * Offer HTTP/2 (`h2`) beside HTTP/1.1 by ALPN. Default: on for TLS listeners; `false`
     * serves HTTP/1.1 only. Plain listeners serve HTTP/1.1 only (h2c is not served), so
     * `true` there is an error.
     */
    http2: z.boolean().optional(),
  })
  .strict()
  .refine((l) => l.tls || l.http2 !== true, { path: ['http2'], message: 'needs tls: true (HTTP/2 is offered by ALPN on TLS listeners; h2c is not served)' });

const hookUrls = z.union([z.url(), z.array(z.url())]).transform((v) => (Array.isArray(v) ? v : [v]));

/** The whole config file. */
export const configSchema = z
  .object({
    /** Public listeners; a reload adds, removes and changes them (a new port is bound before anything else changes). */
    listeners: z.array(listener).min(1).meta(RELOADS),
    admin: z
      .object({
        /** host:port of the admin API. */
        listen: z.string().regex(TARGET_PATTERN, 'must be host:port').default('127.0.0.1:9901'),
        /** Environment variable holding the bearer token. */
        token_env: z.string().default('SWITCHYARD_ADMIN_TOKEN'),
        /** Largest admin request body in bytes. */
        body_limit: positiveInt.default(1_048_576),
      })
      .strict()
      .prefault({})
      .meta(RESTART_ONLY),
    /** Where runtime state (weights, targets, history) is kept: a file (default) or etcd, shared by a fleet. */
    state: stateConfig.prefault({}).meta(RESTART_ONLY),
    /** Directory of certificates and keys. */
    certs_dir: z.string().default('certs').meta(RESTART_ONLY),
    /** The ACME CA certificates with `acme: true` are obtained from; none: no automatic certificates. */
    acme: acme.optional().meta(RELOADS),
    /** Certificates switchyard obtains by itself (`acme: true`), besides those uploaded through the API; a reload orders new ones and stops renewing removed ones. */
    certificates: z.array(certificate).default([]).meta(RELOADS),
    /** Start tiny demo backends at the demo service's loopback targets. */
    demo_backends: z.boolean().default(false).meta(RESTART_ONLY),
    /**
     * Worker processes serving clients (SPEC §8): `auto` (default) is one per CPU this
     * process may use; N forks N; 0 serves from the one process (no primary, no workers).
     */
    workers: z
      .union([z.literal('auto'), z.number().int(WORKERS_MESSAGE).min(0, WORKERS_MESSAGE).max(256, WORKERS_MESSAGE)], { error: WORKERS_MESSAGE })
      .default('auto')
      .meta(RESTART_ONLY),
    /** Longest graceful drain on SIGTERM. */
    shutdown_timeout: duration.default(30_000).meta(RELOADS),
    logging: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** Log one line per proxied request. */
        access_log: z.boolean().default(false),
      })
      .strict()
      .prefault({})
      .meta(RELOADS),
    metrics: z
      .object({
        enabled: z.boolean().default(true),
        /** With workers: a `worker` label (1…N) on the request counters instead of one sum for the group. */
        per_worker: z.boolean().default(false),
      })
      .strict()
      .prefault({})
      .meta(RESTART_ONLY),
    limits: limitsSchema,
    upstream: upstreamSchema,
    debug: z
      .object({
        /** Add `X-Switchyard-Worker: <worker id>` to every proxied response (for benchmarks and tests; off by default). */
        worker_header: z.boolean().default(false),
      })
      .strict()
      .prefault({})
      .meta(RESTART_ONLY),
    /** Webhooks, read at each event. */
    hooks: z.object({ on_health_change: hookUrls.optional(), on_switch: hookUrls.optional() }).strict().prefault({}).meta(RELOADS),
    /** Services; a reload swaps the routing in one step (runtime weights and targets carry over). */
    services: z.array(service).min(1).meta(RELOADS),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.services.forEach((svc, i) => {
      if (seen.has(svc.name)) ctx.addIssue({ code: 'custom', path: ['services', i, 'name'], message: `duplicate service "${svc.name}"` });
      seen.add(svc.name);
    });
    const routes = new Set<string>();
    cfg.services.forEach((svc, i) => {
      for (const host of svc.hosts.length ? svc.hosts : ['']) {
        for (const path of svc.paths) {
          const key = `${host} ${path}`;
          if (routes.has(key))
            ctx.addIssue({ code: 'custom', path: ['services', i, 'paths'], message: `route ${host || '(default)'}${path} is already taken` });
          routes.add(key);
        }
      }
    });
    const names = new Set<string>();
    cfg.certificates.forEach((c, i) => {
      if (names.has(c.name)) ctx.addIssue({ code: 'custom', path: ['certificates', i, 'name'], message: `duplicate certificate "${c.name}"` });
      names.add(c.name);
    });
    if (cfg.certificates.length > 0 && cfg.acme === undefined) {
      ctx.addIssue({ code: 'custom', path: ['acme'], message: 'is required when certificates have acme: true (at least acme.directory)' });
    }
    const ports = new Set<number>();
    cfg.listeners.forEach((l, i) => {
      if (l.port !== 0 && ports.has(l.port)) ctx.addIssue({ code: 'custom', path: ['listeners', i, 'port'], message: `port ${l.port} is used twice` });
      ports.add(l.port);
    });
  });

/** The validated configuration, with every default filled in. */
export type Config = z.output<typeof configSchema>;
export type ServiceConfig = Config['services'][number];
export type ListenerConfig = Config['listeners'][number];
export type HealthCheckConfig = NonNullable<ServiceConfig['health_check']>;
export type AnalysisConfig = ServiceConfig['analysis'];
export type GatesConfig = ServiceConfig['gates'];
export type MirrorConfig = NonNullable<ServiceConfig['mirror']>;
/** The `acme` section, defaults filled in. */
export type AcmeConfig = NonNullable<Config['acme']>;
/** One entry of `certificates`. */
export type CertificateConfig = Config['certificates'][number];
