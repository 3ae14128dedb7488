import type { AnalysisConfig } from '../config/schema.js';
import type { RolloutAction } from '../events/bus.js';
import type { RolloutRecord } from '../routing/service-state.js';
import type { RolloutWrite } from '../state/controller.js';
import type { Measurement } from './measurement.js';
import { nextStep, revise, splitWeights } from './record.js';

/** What a measurement did: aborted the rollout, ended the analysis step, or was only counted (the step goes on). */
export type Outcome = 'aborted' | 'advanced' | 'counted';

/** The figures stored with a measurement: what it found, and where the step's counts stand. */
export function figures(m: Measurement, analysis: AnalysisConfig, passes: number, failures: number, time: string): Record<string, unknown> {
  return { ...m.figures, verdict: m.verdict, summary: m.summary, passes, failures, count: analysis.count, failure_limit: analysis.failure_limit, time };
}

/**
 * The write a measurement (an analysis interval, a gate answer, a refused weight step)
 * makes of `current` (SPEC §10): the `failure_limit`-th failure aborts — all traffic back
 * to the stable stack at once, the reason naming the figure; in an analysis step the
 * `count`-th pass moves on to the next step; anything else is counted, an inconclusive
 * measurement holding the step where it is.
 */
export function applyMeasurement(
  current: RolloutRecord,
  m: Measurement,
  analysis: AnalysisConfig,
  analysing: boolean,
  time: string,
): { write: RolloutWrite; outcome: Outcome; actions: RolloutAction[] } {
  const passes = current.passes + (m.verdict === 'pass' ? 1 : 0);
  const failures = current.failures + (m.verdict === 'fail' ? 1 : 0);
  const shown = figures(m, analysis, passes, failures, time);
  if (m.verdict === 'fail' && failures >= analysis.failure_limit) {
    const reason = `aborted: ${m.summary}`;
    const rollout = revise(current, { state: 'aborted', held_by: null, pause_until: null, pause_left_ms: null, failures, analysis: shown, reason }, time);
    return { write: { rollout, weights: splitWeights(current, 0), reason, force: true }, outcome: 'aborted', actions: ['analysis', 'aborted'] };
  }
  if (m.verdict === 'pass' && analysing && passes >= analysis.count) {
    const rollout = nextStep(current, time, { analysis: shown });
    return { write: { rollout }, outcome: 'advanced', actions: rollout.state === 'completed' ? ['analysis', 'step', 'completed'] : ['analysis', 'step'] };
  }
  const reason =
    m.verdict === 'fail' ? `failure ${failures}/${analysis.failure_limit}: ${m.summary}` : m.verdict === 'inconclusive' ? `holding: ${m.summary}` : null;
  return { write: { rollout: revise(current, { passes, failures, analysis: shown, reason }, time) }, outcome: 'counted', actions: ['analysis'] };
}
