import type { SwitchyardEvent } from '../events/bus.js';
import type { Weights } from '../routing/service-state.js';
import type { ServiceRoute } from '../routing/service-route.js';
import type { VersionedState } from './state-store.js';

function weightsOf(route: ServiceRoute): Weights {
  return Object.fromEntries(route.pools.map((pool, i) => [pool.name, route.weights[i] ?? 0]));
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

/**
 * What a change made elsewhere (another fleet instance, or the store catching up)
 * publishes here, so the event stream, webhooks, WebSocket drains and metrics see it as
 * they see a local change: the writer's own event when the store carried it (with
 * `active` as this instance now routes), else what the states tell: a `weights` event
 * when the weights moved and a `targets` event per stack whose targets changed.
 */
export function remoteEvents(before: ServiceRoute | undefined, after: ServiceRoute, stored: VersionedState | undefined): SwitchyardEvent[] {
  const origin = stored?.origin === undefined ? {} : { origin: stored.origin };
  const carried = stored?.event;
  if (carried !== undefined && carried.service === after.name && carried.generation === after.state.generation) {
    return [carried.type === 'targets' || carried.type === 'overrides' ? { ...carried, ...origin } : { ...carried, ...origin, active: after.active.name }];
  }
  const time = new Date().toISOString();
  const common = { time, service: after.name, generation: after.state.generation, ...origin };
  const events: SwitchyardEvent[] = [];
  const from = before ? weightsOf(before) : {};
  const to = weightsOf(after);
  const names = Object.keys(to);
  if (!sameList(names, Object.keys(from)) || names.some((name) => from[name] !== to[name])) {
    events.push({ type: 'weights', ...common, from, to, active: after.active.name, reason: stored ? 'store' : 'config' });
  }
  for (const pool of after.pools) {
    const was = before?.stacks.get(pool.name)?.targets.map((t) => t.address) ?? [];
    const now = pool.targets.map((t) => t.address);
    if (!sameList(was, now)) events.push({ type: 'targets', ...common, stack: pool.name, targets: now });
  }
  return events;
}
