import type { MirrorResult, StackMeter, UpstreamErrorKind } from '../pool/stack-meter.js';
import type { Target } from '../pool/target.js';

/** Request duration buckets for a proxy: 0.5 ms to 10 s (every process counts with these, so a primary can add workers' counts up). */
export const DURATION_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The counts of one service/stack as plain data: what a worker reports to the primary and
 * what the primary sums. Every figure is a running total since the counting process started.
 */
export interface StackCounts {
  readonly service: string;
  readonly stack: string;
  /** Responses per status code: `[code, count]`. */
  readonly codes: readonly (readonly [number, number])[];
  /** Non-cumulative count per duration bucket; the last slot is +Inf. */
  readonly buckets: readonly number[];
  readonly sum: number;
  readonly count: number;
  /** Failed upstream attempts: `[target, kind, count]`. */
  readonly errors: readonly (readonly [string, UpstreamErrorKind, number])[];
  /** Requests mirrored to this stack (SPEC §10): `[result, count]`; absent when none. */
  readonly mirrors?: readonly (readonly [MirrorResult, number])[];
}

/** Label values of one series; `worker` only on a page with `metrics.per_worker`. */
export interface SeriesLabels {
  readonly service: string;
  readonly stack: string;
  readonly worker?: string;
}

/** The counts of one service/stack, kept as plain numbers: the request path only adds. */
export class StackSeries {
  readonly labels: SeriesLabels;
  /** Responses per status code. */
  readonly codes = new Map<number, number>();
  /** Upper bounds of the duration buckets, in seconds. */
  private readonly bounds: readonly number[];
  /** Non-cumulative count per duration bucket; the last slot is +Inf. */
  readonly buckets: Float64Array;
  /** Failed upstream attempts per `target \0 kind`. */
  readonly errors = new Map<string, number>();
  sum = 0;
  count = 0;
  /** Mirrored copies to this stack, by result. */
  readonly mirrors = new Map<MirrorResult, number>();
  /** All failed upstream attempts, so a report can tell a changed series by two numbers. */
  errorCount = 0;
  /** All mirrored copies, for the same reason. */
  mirrorCount = 0;
  /** `count + errorCount + mirrorCount` when last reported (see ResponseCounters.changed). */
  reported = 0;

  constructor(labels: SeriesLabels, bounds: readonly number[]) {
    this.labels = labels;
    this.bounds = bounds;
    this.buckets = new Float64Array(bounds.length + 1);
  }

  /** One response: its status and how long it took in seconds. */
  record(status: number, seconds: number): void {
    this.codes.set(status, (this.codes.get(status) ?? 0) + 1);
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && seconds > (bounds[i] as number)) i++;
    this.buckets[i] = (this.buckets[i] as number) + 1;
    this.sum += seconds;
    this.count++;
  }

  /** One failed upstream attempt at `target`. */
  upstreamError(target: string, kind: UpstreamErrorKind): void {
    const key = `${target}\u0000${kind}`;
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
    this.errorCount++;
  }

  /** One request mirrored to this stack, and what became of it. */
  mirror(result: MirrorResult): void {
    this.mirrors.set(result, (this.mirrors.get(result) ?? 0) + 1);
    this.mirrorCount++;
  }

  /** The counts as plain data. */
  toCounts(): StackCounts {
    const errors = [...this.errors].map(([key, n]) => {
      const at = key.lastIndexOf('\u0000');
      return [key.slice(0, at), key.slice(at + 1) as UpstreamErrorKind, n] as const;
    });
    const { service, stack } = this.labels;
    const counts = { service, stack, codes: [...this.codes], buckets: [...this.buckets], sum: this.sum, count: this.count, errors };
    return this.mirrors.size === 0 ? counts : { ...counts, mirrors: [...this.mirrors] };
  }

  /** Adds another process's counts to these (the primary summing its workers). */
  add(counts: StackCounts): void {
    for (const [code, n] of counts.codes) this.codes.set(code, (this.codes.get(code) ?? 0) + n);
    counts.buckets.forEach((n, i) => {
      if (i < this.buckets.length) this.buckets[i] = (this.buckets[i] as number) + n;
    });
    for (const [target, kind, n] of counts.errors) {
      const key = `${target}\u0000${kind}`;
      this.errors.set(key, (this.errors.get(key) ?? 0) + n);
      this.errorCount += n;
    }
    for (const [result, n] of counts.mirrors ?? []) {
      this.mirrors.set(result, (this.mirrors.get(result) ?? 0) + n);
      this.mirrorCount += n;
    }
    this.sum += counts.sum;
    this.count += counts.count;
  }
}

/** Counts from one source, labelled with the worker they came from when the page shows workers apart. */
export interface LabelledCounts {
  readonly worker?: string | undefined;
  readonly counts: StackCounts;
}

/** The StackSeries of a process, one per service/stack (and worker, on a primary's per-worker page). */
export class ResponseCounters {
  private readonly series = new Map<string, StackSeries>();
  readonly bounds: readonly number[];

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
  }

  /** The counts of one service/stack; the same object across snapshot rebuilds. */
  of(service: string, stack: string, worker?: string): StackSeries {
    const key = worker === undefined ? `${service}\u0000${stack}` : `${service}\u0000${stack}\u0000${worker}`;
    let s = this.series.get(key);
    if (s === undefined) {
      s = new StackSeries(worker === undefined ? { service, stack } : { service, stack, worker }, this.bounds);
      this.series.set(key, s);
    }
    return s;
  }

  /** A meter bound to one service/stack, so the request path does no lookups. */
  meterFor(service: string, stack: string): StackMeter {
    const series = this.of(service, stack);
    return {
      response(status: number, seconds: number) {
        series.record(status, seconds);
      },
      upstreamError(target: Target, kind: UpstreamErrorKind) {
        series.upstreamError(target.address, kind);
      },
      mirror(result: MirrorResult) {
        series.mirror(result);
      },
    };
  }

  /** Every series. */
  all(): IterableIterator<StackSeries> {
    return this.series.values();
  }

  /** The series that counted something since the last call, as plain data (a worker's report). */
  changed(): StackCounts[] {
    const out: StackCounts[] = [];
    for (const s of this.series.values()) {
      const mark = s.count + s.errorCount + s.mirrorCount;
      if (mark === s.reported) continue;
      s.reported = mark;
      out.push(s.toCounts());
    }
    return out;
  }

  /** Responses counted over every series. */
  responses(): number {
    let n = 0;
    for (const s of this.series.values()) n += s.count;
    return n;
  }

  /** Replaces every series with the sums of `entries` (the primary, before a scrape). */
  load(entries: Iterable<LabelledCounts>): void {
    this.series.clear();
    for (const { worker, counts } of entries) this.of(counts.service, counts.stack, worker).add(counts);
  }

  /** Forgets every series. */
  clear(): void {
    this.series.clear();
  }
}
