import { type RolloutStep, rolloutStepsSchema } from '../config/delivery-schema.js';
import { parseDuration } from '../config/duration.js';
import { formatPath } from '../config/load.js';
import { SwitchyardError } from '../errors.js';

/** Steps of a rollout started with no list and no `services[].rollout`: a canary judged by switchyard's own numbers. */
export const DEFAULT_STEPS: readonly RolloutStep[] = [{ weight: 10 }, { analysis: 'default' }, { weight: 50 }, { analysis: 'default' }, { weight: 100 }];

/**
 * Checks steps given to the API (INVALID_ROLLOUT naming the first bad one) and completes
 * them: a rollout ends with the new stack at 100, so a list whose last weight is lower
 * gets `{weight: 100}` appended (as Argo Rollouts promotes after its last step).
 */
export function checkSteps(raw: unknown): RolloutStep[] {
  const parsed = rolloutStepsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SwitchyardError('INVALID_ROLLOUT', `${formatPath(['steps', ...(issue?.path ?? [])])}: ${issue?.message ?? 'invalid'}`);
  }
  return completeSteps(parsed.data);
}

/** `steps` ending with the new stack at 100 (see checkSteps). */
export function completeSteps(steps: readonly RolloutStep[]): RolloutStep[] {
  const weights = steps.filter((s): s is { weight: number } => 'weight' in s);
  return weights.at(-1)?.weight === 100 ? [...steps] : [...steps, { weight: 100 }];
}

/** The pause of a step in ms, `null` for `pause: {}` (until promoted); undefined when it is no pause. */
export function pauseOf(step: RolloutStep): number | null | undefined {
  if (!('pause' in step)) return undefined;
  return typeof step.pause === 'object' ? null : (parseDuration(step.pause) ?? 0);
}

/** The history reason of a weight step: `rollout step 2/6: weight 50` (1-based). */
export function stepReason(index: number, total: number, weight: number): string {
  return `rollout step ${index + 1}/${total}: weight ${weight}`;
}
