import { type Override, STACK_ROLES } from '../config/delivery-schema.js';
import { SwitchyardError } from '../errors.js';
import type { ServiceRoute } from '../routing/service-route.js';
import { abortedRollout, type HistoryEntry, type RolloutRecord, rolloutInProgress, type ServiceState, type Weights } from '../routing/service-state.js';
import type { MutationEvent } from './state-store.js';

/**
 * What each admin mutation decides, as pure functions of the current route: the new
 * durable state and the event announcing it, or a catalogue error. The controller runs
 * them inside its serialized commit (again after a lost fleet race) and stores the result.
 */

/** Kept per service so rollback has somewhere to go and the file stays small. */
const HISTORY_LIMIT = 100;

/** Options every mutation accepts. */
export interface MutationOptions {
  /** Generation the caller last saw (If-Match); a stale one gets 412. */
  readonly ifMatch?: number | undefined;
  /** Proceed even when the receiving stack has no healthy target. */
  readonly force?: boolean | undefined;
  readonly reason?: string | undefined;
  readonly actor?: string | undefined;
  /** `all`: answer only once every live fleet instance serves the change (`?wait=all`). */
  readonly wait?: 'all' | undefined;
}

/** What a rollout writes in one durable step: its record and, with `weights`, a weight change. */
export interface RolloutWrite {
  readonly rollout: RolloutRecord;
  /** Weights to apply as an ordinary weight change (generation, history entry, event); stacks left out get 0. */
  readonly weights?: Weights | undefined;
  /** History reason of the weight change, e.g. `rollout step 2/6: weight 50`. */
  readonly reason?: string | undefined;
  /** Apply even when a stack gaining weight has no healthy target (an abort going back). */
  readonly force?: boolean | undefined;
}

/** A mutation's new state and the event announcing it (none for a rollout's bookkeeping). */
export interface Change {
  readonly state: ServiceState;
  readonly event?: MutationEvent | undefined;
}

/** Atomic cut-over: `stack` gets all the weight. */
export function switchChange(route: ServiceRoute, stack: string, options: MutationOptions): Change {
  if (!route.stacks.has(stack)) throw new SwitchyardError('UNKNOWN_STACK', `service "${route.name}" has no stack "${stack}"`);
  const weights = Object.fromEntries(route.pools.map((p) => [p.name, p.name === stack ? 100 : 0]));
  return manualChange(route, weights, 'switch', options);
}

/** Integer weights; stacks left out get 0; not all zero. */
export function weightsChange(route: ServiceRoute, weights: Record<string, number>, options: MutationOptions): Change {
  for (const [name, weight] of Object.entries(weights)) {
    if (!route.stacks.has(name)) throw new SwitchyardError('UNKNOWN_STACK', `service "${route.name}" has no stack "${name}"`);
    if (!Number.isInteger(weight) || weight < 0) throw new SwitchyardError('INVALID_WEIGHTS', `weight of "${name}" must be a non-negative integer`);
  }
  const full = Object.fromEntries(route.pools.map((p) => [p.name, weights[p.name] ?? 0]));
  if (Object.values(full).every((w) => w === 0)) throw new SwitchyardError('INVALID_WEIGHTS', 'weights must not all be zero');
  return manualChange(route, full, 'weights', options);
}

/** Back to the weights before the last change. */
export function rollbackChange(route: ServiceRoute, options: MutationOptions): Change {
  const last = route.state.history.at(-1);
  if (!last) throw new SwitchyardError('NO_HISTORY', `service "${route.name}" has no change to roll back`);
  const weights = Object.fromEntries(route.pools.map((p) => [p.name, last.from[p.name] ?? 0]));
  if (Object.values(weights).every((w) => w === 0)) throw new SwitchyardError('NO_HISTORY', 'the previous weights no longer apply');
  return manualChange(route, weights, 'rollback', options);
}

/** A stack's targets replaced (service registration), duplicates dropped. */
export function targetsChange(route: ServiceRoute, stack: string, targets: readonly string[]): Change {
  if (!route.stacks.has(stack)) throw new SwitchyardError('UNKNOWN_STACK', `service "${route.name}" has no stack "${stack}"`);
  const state = route.state;
  const next: ServiceState = { ...state, generation: state.generation + 1, targets: { ...state.targets, [stack]: [...new Set(targets)] } };
  const event: MutationEvent = {
    type: 'targets',
    time: new Date().toISOString(),
    service: route.name,
    stack,
    targets: next.targets[stack] ?? [],
    generation: next.generation,
  };
  return { state: next, event };
}

/** Run-time overrides replacing the config's; each names `active`, `standby` or a stack of the service. */
export function overridesChange(route: ServiceRoute, overrides: readonly Override[]): Change {
  overrides.forEach((override, i) => {
    if (!STACK_ROLES.includes(override.to) && !route.stacks.has(override.to)) {
      throw new SwitchyardError('INVALID_OVERRIDE', `overrides[${i}].to: service "${route.name}" has no stack "${override.to}"`);
    }
  });
  const state: ServiceState = { ...route.state, generation: route.state.generation + 1, overrides: [...overrides] };
  const event: MutationEvent = {
    type: 'overrides',
    time: new Date().toISOString(),
    service: route.name,
    overrides: state.overrides ?? [],
    generation: state.generation,
  };
  return { state, event };
}

/** A rollout's record, and with `weights` an ordinary weight change (generation, history entry, event) by actor `rollout`. */
export function rolloutChange(route: ServiceRoute, write: RolloutWrite): Change {
  const weights = write.weights === undefined ? undefined : Object.fromEntries(route.pools.map((p) => [p.name, write.weights?.[p.name] ?? 0]));
  if (weights === undefined || route.pools.every((p) => weights[p.name] === route.state.weights[p.name])) {
    return { state: { ...route.state, rollout: write.rollout } };
  }
  const weighted = weightChange(route, weights, 'weights', { reason: write.reason, actor: 'rollout', force: write.force });
  return { ...weighted, state: { ...weighted.state, rollout: write.rollout } };
}

/** A switch, weights or rollback call: refused while a rollout is in progress, unless forced (which aborts the rollout). */
function manualChange(route: ServiceRoute, to: Weights, reason: 'switch' | 'weights' | 'rollback', options: MutationOptions): Change {
  const rollout = route.state.rollout;
  if (!rolloutInProgress(rollout)) return weightChange(route, to, reason, options);
  if (!options.force) {
    throw new SwitchyardError('ROLLOUT_IN_PROGRESS', `service "${route.name}" has a rollout to "${rollout.to}" in progress (abort it, or use force)`);
  }
  const change = weightChange(route, to, reason, options);
  return { ...change, state: { ...change.state, rollout: abortedRollout(rollout, `aborted: ${reason} with force`, change.event.time) } };
}

/** A weight change: refused (409) when a stack gaining weight has no healthy target unless forced; one history entry. */
function weightChange(
  route: ServiceRoute,
  to: Weights,
  reason: 'switch' | 'weights' | 'rollback',
  options: MutationOptions,
): { state: ServiceState; event: MutationEvent } {
  const state = route.state;
  if (!options.force) {
    for (const pool of route.pools) {
      const gains = (to[pool.name] ?? 0) > 0;
      if (gains && !pool.hasAvailable()) {
        throw new SwitchyardError('STACK_UNHEALTHY', `stack "${pool.name}" of service "${route.name}" has no healthy target (use force to override)`);
      }
    }
  }
  const generation = state.generation + 1;
  const entry: HistoryEntry = {
    time: new Date().toISOString(),
    from: state.weights,
    to,
    reason: options.reason ?? reason,
    actor: options.actor ?? 'admin',
    generation,
  };
  const history = [...state.history, entry].slice(-HISTORY_LIMIT);
  const next: ServiceState = { ...state, generation, weights: to, history };
  // `active` is filled in from the rebuilt route, which settles ties.
  return {
    state: next,
    event: { type: reason, time: entry.time, service: route.name, from: state.weights, to, active: '', generation, reason: entry.reason },
  };
}
