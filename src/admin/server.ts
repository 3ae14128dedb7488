import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { AcmeManager } from '../acme/manager.js';
import type { Config } from '../config/schema.js';
import { splitHostPort } from '../net/host-port.js';
import type { RolloutRunner } from '../rollout/runner.js';
import type { StateController } from '../state/controller.js';
import type { FleetMember } from '../state/etcd/records.js';
import type { CertificateStore } from '../tls/store.js';
import { createAdminApp } from './app.js';
import { isLoopbackHost } from './guards.js';
import { registerCertificateRoutes } from './routes/certificates.js';
import { attachEventStream } from './routes/events.js';
import { registerFleetRoute } from './routes/fleet.js';
import { registerHealthRoute } from './routes/health.js';
import { type MetricsPage, registerMetricsRoute } from './routes/metrics.js';
import { registerOverrideRoutes } from './routes/overrides.js';
import { registerRolloutRoutes } from './routes/rollouts.js';
import { registerServiceRoutes } from './routes/services.js';
import { registerDashboard } from './routes/ui.js';
import { registerWorkersRoute, type WorkersView } from './routes/workers.js';

/** Raised when the config cannot be served (e.g. a public admin without a token). */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

/** What the admin API reads and calls. */
export interface AdminDeps {
  readonly config: Config;
  /** Bearer token (see adminToken). */
  readonly token: string | undefined;
  readonly controller: StateController;
  /** Rollouts of every service (SPEC §10). */
  readonly rollouts: RolloutRunner;
  readonly certificates: CertificateStore;
  /** ACME orders and renewals (next renewals, POST /v1/certificates/acme). */
  readonly acme: AcmeManager;
  /** Open WebSockets of a service's stack. */
  readonly websockets: (service: string, stack: string) => number;
  /** Certificates that are some listener's default_cert. */
  readonly defaultCerts: () => ReadonlySet<string>;
  /** True once a graceful stop began (/healthz turns 503). */
  readonly stopping: () => boolean;
  /** What /metrics serves; none when metrics are disabled (404). */
  readonly metrics: MetricsPage | undefined;
  /** The processes serving clients (`GET /v1/workers`). */
  readonly workers: () => Promise<WorkersView>;
  /** The fleet this instance belongs to (`state.store: etcd`); undefined with the state file. */
  readonly fleet: { members(): Promise<FleetMember[]> } | undefined;
  readonly log: Logger;
}

/** The bearer token from the variable `admin.token_env` names; a non-loopback `admin.listen` without one is a StartupError. */
export function adminToken(config: Config): string | undefined {
  const token = process.env[config.admin.token_env] || undefined;
  if (!token && !isLoopbackHost(splitHostPort(config.admin.listen).host)) {
    throw new StartupError(`admin.listen ${config.admin.listen} is not loopback: set ${config.admin.token_env} to a token`);
  }
  return token;
}

/** The admin API with every route and the `/v1/events` stream; `closeEventStream` ends the streams on stop. */
export function createAdminServer(deps: AdminDeps): { app: FastifyInstance; closeEventStream: () => void } {
  const { config, token, controller, certificates, log } = deps;
  const loopback = isLoopbackHost(splitHostPort(config.admin.listen).host);
  const app = createAdminApp({ token, loopback, bodyLimit: config.admin.body_limit, log });
  registerHealthRoute(app, { stopping: deps.stopping, generation: () => controller.snapshot.generation });
  const expiringCertificates = () => certificates.list().flatMap((c) => (c.expires_soon ? [c.name] : []));
  registerServiceRoutes(app, { controller, websockets: deps.websockets, expiringCertificates });
  registerRolloutRoutes(app, { rollouts: deps.rollouts });
  registerOverrideRoutes(app, { controller, websockets: deps.websockets });
  registerCertificateRoutes(app, { store: certificates, defaultCerts: deps.defaultCerts, acme: deps.acme });
  registerFleetRoute(app, deps.fleet);
  if (deps.metrics) registerMetricsRoute(app, deps.metrics);
  registerWorkersRoute(app, deps.workers);
  const figures = registerDashboard(app, { metrics: () => deps.metrics?.registry, snapshot: () => controller.snapshot, log });
  const closeEventStream = attachEventStream({ server: app.server, events: controller.events, token, loopback, figures });
  return { app, closeEventStream };
}
