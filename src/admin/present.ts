import type { StackPool } from '../pool/stack-pool.js';
import type { Target } from '../pool/target.js';
import { presentRollout } from '../rollout/record.js';
import type { ServiceRoute } from '../routing/service-route.js';

/** The JSON form of a target: health as the checkers last wrote it. */
export function presentTarget(target: Target, now = Date.now()) {
  return {
    address: target.address,
    healthy: target.healthy,
    available: target.isAvailable(now),
    ejected_until: target.ejectedUntil > now ? new Date(target.ejectedUntil).toISOString() : null,
    in_flight: target.inFlight,
    consecutive_successes: target.consecutiveSuccesses,
    consecutive_failures: target.consecutiveFailures,
    last_check: target.lastCheck ? new Date(target.lastCheck).toISOString() : null,
    last_error: target.lastError,
  };
}

function presentStack(route: ServiceRoute, pool: StackPool, index: number, websockets: (service: string, stack: string) => number) {
  const now = Date.now();
  return {
    weight: route.weights[index] ?? 0,
    active: pool === route.active,
    healthy_targets: pool.targets.filter((t) => t.isAvailable(now)).length,
    websockets: websockets(route.name, pool.name),
    targets: pool.targets.map((t) => presentTarget(t, now)),
  };
}

/** The JSON form of a service for the admin API and `switchyard status`. */
export function presentService(route: ServiceRoute, websockets: (service: string, stack: string) => number = () => 0) {
  return {
    name: route.name,
    generation: route.state.generation,
    active: route.active.name,
    standby: route.standby.name,
    weights: Object.fromEntries(route.pools.map((p, i) => [p.name, route.weights[i] ?? 0])),
    hosts: route.config.hosts,
    paths: route.config.paths,
    balance: route.config.balance,
    sticky: route.config.sticky,
    failover: route.config.failover,
    overrides: route.state.overrides ?? route.config.overrides,
    rollout: route.state.rollout === undefined ? null : presentRollout(route, route.state.rollout),
    stacks: Object.fromEntries(route.pools.map((p, i) => [p.name, presentStack(route, p, i, websockets)])),
  };
}
