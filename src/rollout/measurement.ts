/** What one measurement says: the new stack passes, fails, or there is too little to judge (hold). */
export type Verdict = 'pass' | 'fail' | 'inconclusive';

/** One measurement of an analysis run or one gate call. */
export interface Measurement {
  readonly verdict: Verdict;
  /** One line naming the figure, e.g. `error rate 0.093 > 0.01 over 30s (412 requests)`; an abort's reason quotes it. */
  readonly summary: string;
  /** The figures behind it, shown by `GET .../rollout` (provider, requests, error_rate, p99_ms, value, status…). */
  readonly figures: Readonly<Record<string, unknown>>;
}

/** A ratio as people read one: up to three decimals (`0.093`), two significant digits below that. */
export function formatRatio(value: number): string {
  if (value === 0 || !Number.isFinite(value)) return String(value);
  return Math.abs(value) >= 0.001 ? String(Number(value.toFixed(3))) : value.toPrecision(2);
}
