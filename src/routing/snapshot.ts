import type { Config, ServiceConfig } from '../config/schema.js';
import { NOOP_METER, type MeterFactory } from '../pool/stack-meter.js';
import type { TargetSource } from '../pool/registry.js';
import { StackPool } from '../pool/stack-pool.js';
import type { ServiceState, Weights } from './service-state.js';
import { HostRouter } from './host-router.js';
import type { RouteMirror, RouteOverride, ServiceRoute } from './service-route.js';

/** An immutable view of routing, built off the hot path and swapped by one assignment. */
export interface RoutingSnapshot {
  readonly config: Config;
  /** Bumped on every rebuild (config reload or admin change). */
  readonly generation: number;
  readonly services: ReadonlyMap<string, ServiceRoute>;
  readonly router: HostRouter<ServiceRoute>;
}

/** What a build keeps from the snapshot before it: each service's active stack, so a tie keeps it (a RoutingSnapshot is one). */
export interface PreviousActive {
  readonly services: ReadonlyMap<string, { readonly active: { readonly name: string } }>;
}

/** The weights a service starts with from config alone: `active` (or the first stack) gets 100. */
export function initialWeights(service: ServiceConfig): Weights {
  const names = Object.keys(service.stacks);
  const active = service.active ?? names[0];
  return Object.fromEntries(names.map((name) => [name, name === active ? 100 : 0]));
}

/** The runtime state a service starts with when nothing was stored. */
export function initialState(service: ServiceConfig): ServiceState {
  return { generation: 1, weights: initialWeights(service), targets: {}, history: [] };
}

function activeIndex(weights: readonly number[], previous: string | undefined, names: readonly string[]): number {
  let best = 0;
  for (let i = 1; i < weights.length; i++) {
    if ((weights[i] ?? 0) > (weights[best] ?? 0)) best = i;
  }
  // On a tie keep the stack that was active before, so 50/50 does not flap the label.
  const prev = previous === undefined ? -1 : names.indexOf(previous);
  if (prev !== -1 && weights[prev] === weights[best]) return prev;
  return best;
}

function buildService(
  service: ServiceConfig,
  state: ServiceState,
  targets: TargetSource,
  previousActive: string | undefined,
  defaultTimeout: number,
  meters: MeterFactory,
): ServiceRoute {
  const names = Object.keys(service.stacks);
  const initiallyHealthy = service.health_check === undefined;
  const pools = names.map((stackName) => {
    const addresses = state.targets[stackName] ?? service.stacks[stackName]?.targets ?? [];
    const stackTargets = addresses.map((address) => targets.obtain(service.name, stackName, address, initiallyHealthy));
    return new StackPool(service.name, stackName, stackTargets, service.balance, meters(service.name, stackName));
  });
  const weights = names.map((name) => state.weights[name] ?? 0);
  const cumulative: number[] = [];
  let total = 0;
  for (const w of weights) {
    total += w;
    cumulative.push(total);
  }
  const weighted = pools.filter((_, i) => (weights[i] ?? 0) > 0);
  const active = pools[activeIndex(weights, previousActive, names)] as StackPool;
  const standby = pools.find((p) => p !== active) ?? active;
  // `active` and `standby` are settled per snapshot: a weight change rebuilds it, so they follow.
  const resolve = (to: string): StackPool | undefined => (to === 'active' ? active : to === 'standby' ? standby : pools.find((p) => p.name === to));
  const overrides: RouteOverride[] = [];
  for (const o of state.overrides ?? service.overrides) {
    const pool = resolve(o.to);
    if (pool !== undefined) overrides.push({ header: o.header?.toLowerCase(), cookie: o.cookie, value: o.value, pool });
  }
  const mirrorPool = service.mirror === undefined ? undefined : resolve(service.mirror.to);
  const mirror: RouteMirror | null =
    service.mirror === undefined || mirrorPool === undefined || service.mirror.percent === 0
      ? null
      : {
          pool: mirrorPool,
          percent: service.mirror.percent,
          maxBody: service.mirror.max_body,
          maxConcurrent: service.mirror.max_concurrent,
          timeout: service.mirror.timeout,
        };
  return {
    name: service.name,
    config: service,
    state,
    stacks: new Map(pools.map((p) => [p.name, p])),
    pools,
    weights,
    cumulative,
    totalWeight: total,
    soloPool: weighted.length === 1 ? weighted[0] : undefined,
    active,
    standby,
    stickyCookie: service.sticky === 'cookie' ? `switchyard.${service.name}` : undefined,
    responseTimeout: service.response_timeout ?? defaultTimeout,
    overrides: overrides.length > 0 ? overrides : null,
    mirror,
  };
}

/**
 * Builds a snapshot from config (the base) and runtime state (what was changed at run
 * time), taking Target objects from `targets` (a registry draft, committed by the caller
 * once the snapshot goes live). Pure otherwise: building one changes nothing.
 */
export function buildSnapshot(
  config: Config,
  states: ReadonlyMap<string, ServiceState>,
  targets: TargetSource,
  generation: number,
  previous?: PreviousActive,
  meters: MeterFactory = () => NOOP_METER,
): RoutingSnapshot {
  const services = new Map<string, ServiceRoute>();
  const router = new HostRouter<ServiceRoute>();
  for (const service of config.services) {
    const state = states.get(service.name) ?? initialState(service);
    const route = buildService(service, state, targets, previous?.services.get(service.name)?.active.name, config.upstream.response_timeout, meters);
    services.set(service.name, route);
    for (const path of service.paths) {
      if (service.hosts.length === 0) router.add(undefined, path, route);
      for (const host of service.hosts) router.add(host, path, route);
    }
  }
  return { config, generation, services, router };
}
