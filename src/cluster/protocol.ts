import type { ChallengeChange } from '../acme/challenges.js';
import type { Config } from '../config/schema.js';
import type { SwitchyardEvent } from '../events/bus.js';
import type { StackCounts } from '../metrics/stack-series.js';
import type { CertificateChange } from '../tls/store.js';
import type { RoutingWire, TargetHealth } from './snapshot-wire.js';

/**
 * Messages from the primary to a worker, over the cluster IPC channel (structured clone).
 * Those with a `seq` are answered (`ack` or `report`) with the same `seq`.
 */
export type ToWorker =
  /** First message: who the worker is and everything it serves from; it listens only after applying it. */
  | { t: 'init'; id: number; incarnation: number; routing: RoutingWire; certificates: readonly CertificateChange[]; challenges: readonly ChallengeChange[] }
  /** A new routing snapshot; acknowledged once it is live in the worker. */
  | { t: 'routing'; seq: number; routing: RoutingWire }
  /** A certificate added, replaced or removed; acknowledged once handshakes see it. */
  | { t: 'certificate'; seq: number; change: CertificateChange }
  /** An ACME http-01 token to answer or to stop answering; acknowledged once the worker answers it. */
  | { t: 'challenge'; seq: number; change: ChallengeChange }
  /** A target's health changed (active check, or a passive ejection seen by some worker). */
  | { t: 'target'; health: TargetHealth }
  /** A switch, weight change or rollback (the worker's WebSocket drain follows them). */
  | { t: 'event'; event: SwitchyardEvent }
  /** First half of a reload: bind the listeners `config` adds; the routing push carrying `config` commits them. */
  | { t: 'reload'; seq: number; config: Config }
  /** Asks for the counts changed since the last report. */
  | { t: 'report'; seq: number }
  /** Drain (in-flight requests get `timeout` ms) and exit 0. */
  | { t: 'stop'; timeout: number };

/** What a worker has counted and holds open, as it reports it. */
export interface WorkerReport {
  /** Series that counted something since the previous report, with running totals. */
  readonly counts: readonly StackCounts[];
  /** Open proxied WebSockets: `[service, stack, count]`, non-zero ones only. */
  readonly websockets: readonly (readonly [string, string, number])[];
  /** Responses sent since the worker started (null when metrics are off). */
  readonly requests: number | null;
  /** Routing generation applied. */
  readonly generation: number;
}

/** Messages from a worker to the primary. */
export type FromWorker =
  /** Its message handler is attached: a message sent before this would be lost, so the primary holds them until then. */
  | { t: 'hello' }
  /** Listening, with the bound port of each listener. */
  | { t: 'ready'; ports: Record<string, number> }
  /** Could not start (a listener could not bind): the primary's start fails with `message`. */
  | { t: 'failed'; message: string }
  /** Applied message `seq`; `error` when it could not (a reload's listener failed to bind). */
  | { t: 'ack'; seq: number; generation: number; ports?: Record<string, number>; error?: string }
  /** Counts, answering `report` message `seq`, or unasked (`seq` undefined) every second while they change. */
  | { t: 'report'; seq: number | undefined; report: WorkerReport }
  /** The worker's passive health check ejected a target: the primary applies it everywhere. */
  | { t: 'ejected'; health: TargetHealth }
  /** An event of the request path (failover) for the primary's event stream. */
  | { t: 'event'; event: SwitchyardEvent };

/** True for a message of this protocol (the channel also carries Node's own cluster messages, filtered before us). */
export function isMessage<T extends { t: string }>(value: unknown): value is T {
  return typeof value === 'object' && value !== null && typeof (value as { t?: unknown }).t === 'string';
}
