import type { Config } from '../config/schema.js';
import type { Target } from '../pool/target.js';
import type { ServiceState } from '../routing/service-state.js';
import type { RoutingSnapshot } from '../routing/snapshot.js';

/** The health of one target as every process must see it: active-check result and passive ejection. */
export interface TargetHealth {
  readonly service: string;
  readonly stack: string;
  /** `host:port`. */
  readonly target: string;
  readonly healthy: boolean;
  /** Epoch ms the passive ejection ends; 0 when not ejected. */
  readonly ejectedUntil: number;
}

/** One service's runtime state as a worker rebuilds it (history stays with the primary). */
export interface ServiceWire {
  readonly name: string;
  readonly state: Omit<ServiceState, 'history'>;
  /** The primary's active stack, so a worker breaks a weight tie the same way. */
  readonly active: string;
  /** Health of each of its targets. */
  readonly health: readonly TargetHealth[];
}

/**
 * A routing snapshot on its way to a worker: its generation, the config when it changed
 * (always in a worker's first one), and the services whose state changed (all of them
 * when the config is there). A worker holding an earlier state rebuilds the same snapshot.
 */
export interface RoutingWire {
  readonly generation: number;
  readonly config?: Config;
  readonly services: readonly ServiceWire[];
}

/** The health of a target as it travels. */
export function healthOf(target: Target): TargetHealth {
  return { service: target.service, stack: target.stack, target: target.address, healthy: target.healthy, ejectedUntil: target.ejectedUntil };
}

function serviceWire(snapshot: RoutingSnapshot, name: string): ServiceWire {
  const route = snapshot.services.get(name);
  if (route === undefined) throw new Error(`no service ${name} in the snapshot`);
  const { generation, weights, targets, overrides } = route.state;
  const health = route.pools.flatMap((pool) => pool.targets.map(healthOf));
  // Run-time overrides route requests in the workers too (they bump the generation, so a delta carries them).
  const state = overrides === undefined ? { generation, weights, targets } : { generation, weights, targets, overrides };
  return { name, state, active: route.active.name, health };
}

/**
 * Turns snapshots into what workers need: the whole of one for a new worker, and for every
 * later one only the services changed since the previous push (by their state's
 * generation; a new config sends everything).
 */
export class RoutingEncoder {
  private config: Config | undefined;
  /** Service → state generation as last pushed. */
  private readonly pushed = new Map<string, number>();

  /** Everything of `snapshot`, for a worker starting now. */
  full(snapshot: RoutingSnapshot): RoutingWire {
    return { generation: snapshot.generation, config: snapshot.config, services: [...snapshot.services.keys()].map((n) => serviceWire(snapshot, n)) };
  }

  /** What changed since the last push (which this becomes). */
  next(snapshot: RoutingSnapshot): RoutingWire {
    if (snapshot.config !== this.config) {
      this.config = snapshot.config;
      this.pushed.clear();
      for (const [name, route] of snapshot.services) this.pushed.set(name, route.state.generation);
      return this.full(snapshot);
    }
    const changed: ServiceWire[] = [];
    for (const [name, route] of snapshot.services) {
      if (this.pushed.get(name) === route.state.generation) continue;
      this.pushed.set(name, route.state.generation);
      changed.push(serviceWire(snapshot, name));
    }
    return { generation: snapshot.generation, services: changed };
  }
}
