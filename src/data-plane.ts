import type { Logger } from 'pino';
import type { ChallengeResponder } from './acme/challenges.js';
import type { WorkersView } from './admin/routes/workers.js';
import type { Config } from './config/schema.js';
import type { EventListener } from './events/bus.js';
import type { Metrics } from './metrics/metrics.js';
import type { ReloadStep, StateController } from './state/controller.js';
import type { CertificateStore } from './tls/store.js';

/**
 * The part of switchyard that serves clients, as the control plane drives it: the request
 * path in this process (src/proxy/data-path.ts, `workers: 0`), or N worker processes
 * (src/cluster/group.ts).
 */
export interface DataPlane {
  /** Open proxied WebSockets per service and stack. */
  readonly websockets: { count(service: string, stack: string): number };
  /** Follows the event bus (WebSocket drains after switches), if it needs to. */
  readonly onEvent?: EventListener;
  /** Binds every listener of `config`; resolves once clients can be served. */
  start(config: Config): Promise<void>;
  /** Its part of a reload: `prepare` binds what is new (throws to cancel), `commit` makes it live. */
  reloadStep(config: Config): ReloadStep;
  /** The bound port of a listener, by name. */
  port(listener: string): number;
  /** Listener name → bound port. */
  ports(): Record<string, number>;
  /** Certificate names that are some TLS listener's default_cert. */
  defaultCerts(): ReadonlySet<string>;
  /** Stops accepting; in-flight requests get up to `timeout` ms. */
  close(timeout: number): Promise<void>;
  /** Brings the metrics' counters up to date before they are read (workers report theirs). */
  refreshCounts?(): Promise<void>;
  /** The processes serving clients, for `GET /v1/workers`. */
  workers?(): Promise<WorkersView>;
}

/** What a data plane is built from: the control plane's parts. */
export interface ControlParts {
  readonly controller: StateController;
  readonly certificates: CertificateStore;
  /** Undefined when metrics are disabled. */
  readonly metrics: Metrics | undefined;
  /** The ACME http-01 tokens in flight (the primary's ACME manager adds them). */
  readonly challenges: ChallengeResponder;
  readonly log: Logger;
}

/** Builds the data plane of a switchyard from its control plane. */
export type DataPlaneFactory = (parts: ControlParts) => DataPlane;
