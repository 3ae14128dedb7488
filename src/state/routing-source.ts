import type { Config } from '../config/schema.js';
import type { EventBus } from '../events/bus.js';
import type { RoutingSnapshot } from '../routing/snapshot.js';

/**
 * What the request path reads routing from: the state controller in a single process, a
 * replica fed by the primary in a worker process (src/cluster/routing-replica.ts).
 */
export interface RoutingSource {
  /** The current routing snapshot, read once per request. */
  readonly snapshot: RoutingSnapshot;
  /** The config the snapshot was built from. */
  readonly currentConfig: Config;
  /** Where the request path publishes (passive ejections, failovers) and what it follows (switches). */
  readonly events: EventBus;
}
