import type { RolloutStep } from '../config/delivery-schema.js';
import { formatDuration } from '../config/duration.js';
import type { GatesConfig } from '../config/schema.js';
import { messageOf } from '../errors.js';
import type { GateName, RolloutRecord } from '../routing/service-state.js';
import type { Measurement } from './measurement.js';

/** Rollout gates (SPEC §10): which one a step must pass first, and asking its webhook. */

function ignore(): void {}

/** The gate the rollout must pass before running `step` now, if any (pre_rollout before the first step, pre_promotion before the step to 100). */
export function pendingGate(record: RolloutRecord, step: RolloutStep, gates: GatesConfig): GateName | undefined {
  if (gates.pre_rollout !== undefined && record.step === 0 && !record.gates_passed.includes('pre_rollout')) return 'pre_rollout';
  if (gates.pre_promotion !== undefined && 'weight' in step && step.weight === 100 && !record.gates_passed.includes('pre_promotion')) return 'pre_promotion';
  return undefined;
}

/**
 * Asks a gate webhook (SPEC §10, as Flagger's): POSTs `body` (the rollout JSON) to `url`.
 * A 2xx answer passes; any other status, a refused connection or no answer within
 * `timeout` fails the measurement (the rollout holds and asks again next interval).
 */
export async function askGate(gate: GateName, url: string, body: unknown, timeout: number, signal: AbortSignal): Promise<Measurement> {
  const figures = { gate, url };
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeout)]),
    });
    // The answer's body says nothing here: release the connection now.
    response.body?.cancel().catch(ignore);
    const shown = { ...figures, status: response.status };
    if (response.ok) return { verdict: 'pass', summary: `gate ${gate} answered ${response.status}`, figures: shown };
    return { verdict: 'fail', summary: `gate ${gate} answered ${response.status}`, figures: shown };
  } catch (err) {
    const name = (err as Error).name;
    if (name === 'TimeoutError')
      return { verdict: 'fail', summary: `gate ${gate} did not answer within ${formatDuration(timeout)}`, figures: { ...figures, status: null } };
    const cause = (err as { cause?: unknown }).cause;
    return { verdict: 'fail', summary: `gate ${gate} failed: ${messageOf(cause ?? err)}`, figures: { ...figures, status: null } };
  }
}
