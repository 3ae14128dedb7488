import type { AnalysisConfig } from '../config/schema.js';
import { formatDuration } from '../config/duration.js';
import { histogramQuantile } from '../metrics/histogram-quantile.js';
import type { Metrics } from '../metrics/metrics.js';
import { formatRatio, type Measurement } from './measurement.js';

/** The response counts of one stack as switchyard keeps them (src/metrics/response-series.ts). */
export interface ResponseCounts {
  /** Responses per status code. */
  readonly codes: ReadonlyMap<number, number>;
  /** Non-cumulative count per duration bucket; the last slot is +Inf. */
  readonly buckets: ArrayLike<number>;
  /** Upper bounds of the buckets, in seconds. */
  readonly bounds: readonly number[];
  readonly count: number;
}

/** Where builtin analysis reads a stack's counts (brought up to date: with workers, their latest reports). */
export type CountsSource = (service: string, stack: string) => Promise<ResponseCounts>;

/** A copy of a stack's counts at the start of an interval. */
export interface Baseline {
  readonly codes: ReadonlyMap<number, number>;
  readonly buckets: Float64Array;
  readonly count: number;
}

/** Takes the counts now, to subtract at the end of the interval. */
export function baseline(counts: ResponseCounts): Baseline {
  return { codes: new Map(counts.codes), buckets: Float64Array.from(counts.buckets), count: counts.count };
}

/**
 * The `q` quantile in ms of the durations counted per bucket (the last slot is +Inf), as
 * `histogramQuantile` interpolates it; undefined when nothing was counted.
 */
export function quantileMs(buckets: ArrayLike<number>, bounds: readonly number[], q: number): number | undefined {
  const cumulative: number[] = [];
  let total = 0;
  for (let i = 0; i < buckets.length; i++) {
    total += buckets[i] as number;
    if (i < bounds.length) cumulative.push(total);
  }
  const seconds = histogramQuantile(q, bounds, cumulative, total);
  return seconds === null ? undefined : seconds * 1000;
}

/**
 * Judges the new stack over one interval from switchyard's own counts (SPEC §10): the
 * error rate is answers with a 5xx status — the upstream's own, and switchyard's 502/503/
 * 504 for upstream errors — over all answers; p99 comes from the duration histogram.
 * Fewer than `min_requests` answers is inconclusive: the rollout holds rather than pass
 * a canary nobody used.
 */
export function judgeInterval(start: Baseline, now: ResponseCounts, analysis: AnalysisConfig): Measurement {
  const requests = now.count - start.count;
  let errors = 0;
  for (const [code, n] of now.codes) if (code >= 500) errors += n - (start.codes.get(code) ?? 0);
  const buckets = Array.from(now.buckets, (n, i) => n - (start.buckets[i] ?? 0));
  const over = `over ${formatDuration(analysis.interval)} (${requests} requests)`;
  const base = { provider: 'builtin', requests, errors, interval_ms: analysis.interval };
  if (requests < analysis.min_requests) {
    return {
      verdict: 'inconclusive',
      summary: `${requests} requests over ${formatDuration(analysis.interval)}, fewer than min_requests ${analysis.min_requests}`,
      figures: { ...base, error_rate: null, p99_ms: null },
    };
  }
  const rate = errors / requests;
  const p99 = quantileMs(buckets, now.bounds, 0.99);
  const p99Ms = p99 === undefined ? null : Math.round(p99 * 10) / 10;
  const figures = { ...base, error_rate: rate, p99_ms: p99Ms };
  if (rate > analysis.max_error_rate) {
    return { verdict: 'fail', summary: `error rate ${formatRatio(rate)} > ${analysis.max_error_rate} ${over}`, figures };
  }
  if (analysis.max_p99_ms !== undefined && p99Ms !== null && p99Ms > analysis.max_p99_ms) {
    return { verdict: 'fail', summary: `p99 ${Math.round(p99Ms)}ms > ${analysis.max_p99_ms}ms ${over}`, figures };
  }
  const latency = p99Ms === null ? '' : `, p99 ${Math.round(p99Ms)}ms`;
  return { verdict: 'pass', summary: `error rate ${formatRatio(rate)} <= ${analysis.max_error_rate}${latency} ${over}`, figures };
}

/** Builtin analysis reading switchyard's metrics: a stack's response counts, brought up to date first (with workers, their latest reports). */
export function countsFromMetrics(metrics: Metrics): CountsSource {
  return async (service, stack) => {
    await metrics.refresh();
    const series = metrics.counters.of(service, stack);
    return { codes: series.codes, buckets: series.buckets, bounds: metrics.counters.bounds, count: series.count };
  };
}
