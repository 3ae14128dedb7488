import type { RolloutStep } from '../config/delivery-schema.js';
import type { RolloutAction, SwitchyardEvent } from '../events/bus.js';
import type { ServiceRoute } from '../routing/service-route.js';
import type { RolloutRecord } from '../routing/service-state.js';
import { pauseOf } from './steps.js';

/** The end of a timed pause step begun at `time` (stored, so a restart keeps it); null for anything else. */
function pauseEnd(step: RolloutStep | undefined, time: string): string | null {
  const ms = step === undefined ? undefined : pauseOf(step);
  return ms === undefined || ms === null ? null : new Date(Date.parse(time) + ms).toISOString();
}

/**
 * Pure transitions of a rollout record: each returns the next record with its revision
 * bumped (a writer holding an older one lost a race) and `updated_at` set.
 */

/** A rollout about to run its first step. */
export function newRollout(from: string, to: string, steps: readonly RolloutStep[], time: string): RolloutRecord {
  return {
    revision: 1,
    from,
    to,
    steps,
    step: 0,
    state: 'running',
    held_by: null,
    pause_until: pauseEnd(steps[0], time),
    pause_left_ms: null,
    gates_passed: [],
    passes: 0,
    failures: 0,
    analysis: null,
    reason: null,
    started_at: time,
    updated_at: time,
  };
}

/** `record` with `patch` applied. */
export function revise(record: RolloutRecord, patch: Partial<RolloutRecord>, time: string): RolloutRecord {
  return { ...record, ...patch, revision: record.revision + 1, updated_at: time };
}

/** The next step begins (a timed pause with its end set), or past the last one the rollout is complete; counts start afresh. */
export function nextStep(record: RolloutRecord, time: string, patch: Partial<RolloutRecord> = {}): RolloutRecord {
  const fresh = { passes: 0, failures: 0, pause_until: null, pause_left_ms: null, held_by: null, reason: null };
  if (record.step + 1 >= record.steps.length) return revise(record, { ...fresh, ...patch, state: 'completed', reason: 'completed' }, time);
  const step = record.step + 1;
  return revise(record, { ...fresh, ...patch, state: 'running', step, pause_until: pauseEnd(record.steps[step], time) }, time);
}

/** Weights of the rollout's stacks with the new one at `weight` (others at 0). */
export function splitWeights(record: RolloutRecord, weight: number): Record<string, number> {
  return { [record.from]: 100 - weight, [record.to]: weight };
}

/** The pause of the current step: its end while it runs, what is left while an operator holds it. */
function pauseView(record: RolloutRecord, now: number): { until: string | null; remaining_ms: number } | null {
  if (record.pause_until !== null) return { until: record.pause_until, remaining_ms: Math.max(0, Date.parse(record.pause_until) - now) };
  if (record.pause_left_ms !== null) return { until: null, remaining_ms: record.pause_left_ms };
  return null;
}

/** Current weights of a route, by stack name. */
function weightsOf(route: ServiceRoute): Record<string, number> {
  return Object.fromEntries(route.pools.map((p, i) => [p.name, route.weights[i] ?? 0]));
}

/** The JSON of `GET /v1/services/:service/rollout` (SPEC §10), also POSTed to gates. */
export function presentRollout(route: ServiceRoute, record: RolloutRecord, now = Date.now()) {
  return {
    service: route.name,
    from: record.from,
    to: record.to,
    state: record.state,
    step: record.step,
    steps: record.steps,
    weights: weightsOf(route),
    analysis: record.analysis,
    reason: record.reason,
    held_by: record.held_by,
    pause: pauseView(record, now),
    passes: record.passes,
    failures: record.failures,
    gates_passed: record.gates_passed,
    started_at: record.started_at,
    updated_at: record.updated_at,
    generation: route.state.generation,
  };
}

/** The `/v1/events` event for what just happened to a rollout. */
export function rolloutEvent(action: RolloutAction, route: ServiceRoute, record: RolloutRecord): SwitchyardEvent {
  return {
    type: 'rollout',
    time: record.updated_at,
    service: route.name,
    action,
    from: record.from,
    to: record.to,
    state: record.state,
    step: record.step,
    steps: record.steps.length,
    weights: weightsOf(route),
    analysis: record.analysis,
    reason: record.reason,
  };
}
