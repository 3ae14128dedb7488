import type { EventBus } from '../events/bus.js';
import type { StackPool } from '../pool/stack-pool.js';
import type { ServiceRoute } from '../routing/service-route.js';

/** Shortest time between two failover events of one service, in ms. */
const NOTICE_INTERVAL_MS = 1000;

/**
 * Publishes failovers (a request served from another stack because its own had no
 * healthy target). During an outage every request fails over, so each service gets at
 * most one event a second.
 */
export class FailoverNotices {
  private readonly events: EventBus;
  /** Last event per service, epoch ms. */
  private readonly last = new Map<string, number>();

  constructor(events: EventBus) {
    this.events = events;
  }

  /** The handler's `onFailover` callback. */
  readonly notice = (route: ServiceRoute, from: StackPool, to: StackPool): void => {
    const now = Date.now();
    if ((this.last.get(route.name) ?? 0) > now - NOTICE_INTERVAL_MS) return;
    this.last.set(route.name, now);
    this.events.publish({ type: 'failover', time: new Date(now).toISOString(), service: route.name, from: from.name, to: to.name });
  };
}
