import type { AnalysisConfig } from '../config/schema.js';
import { formatDuration } from '../config/duration.js';
import { messageOf } from '../errors.js';
import { formatRatio, type Measurement } from './measurement.js';

/** What a query is about: filled into `{{service}}`, `{{stack}}`, `{{from}}` and `{{interval}}`. */
export interface QueryContext {
  readonly service: string;
  /** The stack rolled out to. */
  readonly stack: string;
  /** The stable stack. */
  readonly from: string;
}

/** Longest wait for Prometheus: one interval, within 1–10 s. */
function timeoutFor(analysis: AnalysisConfig): number {
  return Math.min(10_000, Math.max(1_000, analysis.interval));
}

/** The query with its placeholders filled in. */
export function fillQuery(query: string, context: QueryContext, intervalMs: number): string {
  const values: Record<string, string> = { service: context.service, stack: context.stack, from: context.from, interval: formatDuration(intervalMs) };
  return query.replace(/\{\{\s*(service|stack|from|interval)\s*\}\}/g, (_, name: string) => values[name] ?? '');
}

/** The one number of a query answer, or why there is none (`undefined` value = no data: inconclusive). */
function queryValue(body: unknown): { value?: number; problem?: string } {
  const data = (body as { data?: { resultType?: string; result?: unknown } } | undefined)?.data;
  if (data?.resultType === 'scalar') return { value: Number((data.result as [number, string])[1]) };
  if (data?.resultType !== 'vector' || !Array.isArray(data.result))
    return { problem: `query answered a ${data?.resultType ?? 'malformed'} result, not one value` };
  if (data.result.length === 0) return {};
  if (data.result.length > 1) return { problem: `query returned ${data.result.length} series, not one` };
  return { value: Number((data.result[0] as { value: [number, string] }).value[1]) };
}

/**
 * One measurement from a real Prometheus (SPEC §10): the instant query's one value is
 * compared with `prometheus.max` (default `max_error_rate`) and `prometheus.min`. An error
 * answer, a timeout, or more than one series is a failed measurement; no series, or NaN
 * (0/0: no traffic in the window), is inconclusive, as too little traffic is for builtin.
 */
export async function measurePrometheus(analysis: AnalysisConfig, context: QueryContext, signal: AbortSignal): Promise<Measurement> {
  const prometheus = analysis.prometheus;
  if (prometheus === undefined) return { verdict: 'fail', summary: 'prometheus analysis has no prometheus: {url, query}', figures: { provider: 'prometheus' } };
  const query = fillQuery(prometheus.query, context, analysis.interval);
  const max = prometheus.max ?? (prometheus.min === undefined ? analysis.max_error_rate : undefined);
  const figures = { provider: 'prometheus', query, max: max ?? null, min: prometheus.min ?? null };
  const failed = (why: string): Measurement => ({ verdict: 'fail', summary: `prometheus query failed: ${why}`, figures: { ...figures, value: null } });
  let body: unknown;
  try {
    const url = `${prometheus.url.replace(/\/+$/, '')}/api/v1/query?query=${encodeURIComponent(query)}`;
    const response = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutFor(analysis))]) });
    const text = await response.text();
    try {
      body = JSON.parse(text);
    } catch {
      return failed(`HTTP ${response.status}: ${text.slice(0, 200)}`);
    }
    if (!response.ok || (body as { status?: string }).status !== 'success') {
      return failed(`HTTP ${response.status}: ${(body as { error?: string }).error ?? 'error'}`);
    }
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    return failed(cause === undefined ? messageOf(err) : messageOf(cause));
  }
  const { value, problem } = queryValue(body);
  if (problem !== undefined) return failed(problem);
  if (value === undefined || Number.isNaN(value)) {
    return { verdict: 'inconclusive', summary: `prometheus query returned ${value === undefined ? 'no data' : 'NaN'}`, figures: { ...figures, value: null } };
  }
  const shown = { ...figures, value };
  if (max !== undefined && value > max) return { verdict: 'fail', summary: `prometheus value ${formatRatio(value)} > ${max}`, figures: shown };
  if (prometheus.min !== undefined && value < prometheus.min)
    return { verdict: 'fail', summary: `prometheus value ${formatRatio(value)} < ${prometheus.min}`, figures: shown };
  return { verdict: 'pass', summary: `prometheus value ${formatRatio(value)} within bounds`, figures: shown };
}
