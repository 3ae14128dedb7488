import type { ServiceRoute } from '../routing/service-route.js';
import type { RolloutRecord } from '../routing/service-state.js';
import { type Baseline, baseline, type CountsSource, judgeInterval } from './analysis-builtin.js';
import { measurePrometheus } from './analysis-prometheus.js';
import type { Measurement } from './measurement.js';

/**
 * One analysis interval of a rollout step, by the service's provider: what is taken as it
 * begins (the builtin provider's baseline of the new stack's counts) and the measurement at
 * its end. Apart from the driver, which only times the intervals, so the provider is chosen
 * in this one place.
 */

/** The new stack's counts as an interval begins (builtin provider); undefined for another provider, or without metrics. */
export async function intervalBase(route: ServiceRoute, record: RolloutRecord, counts: CountsSource | undefined): Promise<Baseline | undefined> {
  const now = route.config.analysis.provider === 'builtin' ? await counts?.(route.name, record.to) : undefined;
  return now === undefined ? undefined : baseline(now);
}

/** Measures the interval that began with `base`: a Prometheus query, or the builtin judgement of the counts since `base`. */
export async function measureInterval(
  route: ServiceRoute,
  record: RolloutRecord,
  base: Baseline | undefined,
  counts: CountsSource | undefined,
  signal: AbortSignal,
): Promise<Measurement> {
  const analysis = route.config.analysis;
  if (analysis.provider === 'prometheus') return measurePrometheus(analysis, { service: route.name, stack: record.to, from: record.from }, signal);
  const now = await counts?.(route.name, record.to);
  if (now === undefined) {
    return { verdict: 'fail', summary: 'builtin analysis reads switchyard’s own metrics, and metrics.enabled is false', figures: { provider: 'builtin' } };
  }
  // The interval began under another provider (a reload changed it): judge the next one.
  if (base === undefined) return { verdict: 'inconclusive', summary: 'the provider changed during the interval', figures: { provider: 'builtin' } };
  return judgeInterval(base, now, analysis);
}
