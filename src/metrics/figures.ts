import type { Registry } from 'prom-client';
import { histogramQuantile } from './histogram-quantile.js';

/** The series figures are computed from (SPEC §7). */
const REQUESTS = 'switchyard_requests_total';
const DURATION = 'switchyard_request_duration_seconds';

/** Live figures of one stack over the sliding window. */
export interface StackFigures {
  /** Responses counted in the window. */
  readonly requests: number;
  /** Responses per second over the window. */
  readonly rps: number;
  /** Share of 5xx responses in the window, 0..1; null when there was no response. */
  readonly error_ratio: number | null;
  /** 99th percentile of the response time in milliseconds, interpolated in the histogram bucket (as Prometheus' histogram_quantile); null when there was no response. */
  readonly p99_ms: number | null;
}

/** One sample: figures per service, then per stack. */
export interface FiguresPoint {
  /** ISO time of the sample. */
  readonly time: string;
  readonly services: Readonly<Record<string, Readonly<Record<string, StackFigures>>>>;
}

/** When each target was last checked (ISO, null before its first check), per service, stack and target address. */
export type LastChecks = Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, string | null>>>>>>;

/** The `figures` message of the event stream: the newest sample. */
export interface FiguresEvent extends FiguresPoint {
  readonly type: 'figures';
  /** Length of the sliding window the figures cover, ms. */
  readonly window_ms: number;
  /**
   * Last check of every target: checks run every interval without being events, so this
   * tick is what keeps a dashboard's "checked 2 s ago" true without polling the state.
   */
  readonly checks?: LastChecks;
}

/** What `GET /v1/figures` answers: the recent samples, oldest first. */
export interface FiguresHistory {
  /** False when metrics are disabled: there is nothing to compute figures from. */
  readonly enabled: boolean;
  /** Time between samples, ms. */
  readonly interval_ms: number;
  readonly window_ms: number;
  readonly points: readonly FiguresPoint[];
}

/** Something the event stream can follow for `figures` messages. */
export interface FiguresFeed {
  /** Registers a listener for each new sample; returns the function that removes it. */
  subscribe(listener: (event: FiguresEvent) => void): () => void;
}

/** Timing of the sampler. */
export interface FiguresOptions {
  /** Time between samples, ms (default 2000). */
  readonly interval?: number;
  /** Sliding window each sample covers, ms (default 10000): long enough to smooth a few requests, short enough to see a canary go bad. */
  readonly window?: number;
  /** Samples kept for `GET /v1/figures` (default 150: five minutes at 2 s). */
  readonly keep?: number;
  /** Clock, ms (tests). */
  readonly now?: () => number;
  /** The targets' last checks, sent with each sample on the event stream. */
  readonly checks?: () => LastChecks;
}

/** Cumulative counts of one service/stack at one instant. */
interface Counts {
  total: number;
  errors: number;
  /** Upper bounds of the finite duration buckets, seconds, ascending. */
  readonly bounds: number[];
  /** Cumulative count per finite bucket, same order as bounds. */
  readonly cumulative: number[];
}

interface Sample {
  readonly at: number;
  readonly stacks: ReadonlyMap<string, Counts>;
}

const keyOf = (service: string, stack: string) => `${service}\u0000${stack}`;

/** Reads the cumulative counts of every service/stack from the registry (prom-client's public `get()`). */
async function read(registry: Registry): Promise<Map<string, Counts>> {
  const stacks = new Map<string, Counts>();
  const counts = (labels: Partial<Record<string, string | number>>): Counts | undefined => {
    const { service, stack } = labels;
    if (typeof service !== 'string' || typeof stack !== 'string') return undefined;
    const key = keyOf(service, stack);
    let found = stacks.get(key);
    if (found === undefined) {
      found = { total: 0, errors: 0, bounds: [], cumulative: [] };
      stacks.set(key, found);
    }
    return found;
  };
  const requests = await registry.getSingleMetric(REQUESTS)?.get();
  for (const value of requests?.values ?? []) {
    const found = counts(value.labels);
    if (!found) continue;
    found.total += value.value;
    if (Number(value.labels.code) >= 500) found.errors += value.value;
  }
  const durations = await registry.getSingleMetric(DURATION)?.get();
  // Histogram values carry their series name (`_bucket`, `_sum`, `_count`) beside the labels.
  for (const value of (durations?.values ?? []) as { value: number; labels: Partial<Record<string, string | number>>; metricName?: string }[]) {
    if (!value.metricName?.endsWith('_bucket') || value.labels.le === '+Inf') continue;
    const found = counts(value.labels);
    if (!found) continue;
    found.bounds.push(Number(value.labels.le));
    found.cumulative.push(value.value);
  }
  return stacks;
}

/** now − then for a counter; a counter that went down was reset, and counts from zero again. */
const delta = (now: number, then: number) => (now >= then ? now - then : now);

function figuresOf(now: Counts, then: Counts | undefined, seconds: number): StackFigures {
  const requests = delta(now.total, then?.total ?? 0);
  const errors = Math.min(requests, delta(now.errors, then?.errors ?? 0));
  const cumulative = now.cumulative.map((c, i) => delta(c, then?.cumulative[i] ?? 0));
  const inBuckets = Math.max(requests, cumulative.at(-1) ?? 0);
  const p99 = histogramQuantile(0.99, now.bounds, cumulative, inBuckets);
  return {
    requests,
    rps: seconds > 0 ? Math.round((requests / seconds) * 100) / 100 : 0,
    error_ratio: requests > 0 ? Math.round((errors / requests) * 10_000) / 10_000 : null,
    p99_ms: p99 === null ? null : Math.round(p99 * 10_000) / 10,
  };
}

/**
 * Per-stack req/s, 5xx ratio and p99 for the dashboard, computed from the counts the
 * metrics already keep (`switchyard_requests_total` and the duration histogram), so the
 * request path does no extra work: every `interval` the registry is read, and each stack's
 * figures are the difference to the sample one `window` earlier. Samples are kept for
 * `GET /v1/figures` and each new one goes to the subscribers (the event stream).
 */
export class Figures implements FiguresFeed {
  private readonly source: () => Registry | undefined;
  private readonly interval: number;
  private readonly window: number;
  private readonly keep: number;
  private readonly now: () => number;
  private readonly checks: (() => LastChecks) | undefined;
  private readonly listeners = new Set<(event: FiguresEvent) => void>();
  private samples: Sample[] = [];
  private points: FiguresPoint[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sampling = false;

  /** `source` is read at every sample: the registry may appear after construction, or never (metrics disabled). */
  constructor(source: () => Registry | undefined, options: FiguresOptions = {}) {
    this.source = source;
    this.interval = options.interval ?? 2000;
    this.window = options.window ?? 10_000;
    this.keep = options.keep ?? 150;
    this.now = options.now ?? Date.now;
    this.checks = options.checks;
  }

  /** Takes a first sample now and one every interval until stop(). */
  start(): void {
    if (this.timer !== undefined) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.interval);
    // The sampler never keeps the process alive on its own.
    this.timer.unref();
  }

  /** Stops sampling; the kept samples stay readable. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  subscribe(listener: (event: FiguresEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The kept samples, oldest first. */
  history(): FiguresHistory {
    return { enabled: this.source() !== undefined, interval_ms: this.interval, window_ms: this.window, points: this.points };
  }

  /** Reads the registry once and, from the second sample on, publishes the figures (empty while metrics are disabled). Overlapping calls are skipped. */
  async sample(): Promise<FiguresPoint | undefined> {
    if (this.sampling) return undefined;
    const registry = this.source();
    this.sampling = true;
    let stacks: Map<string, Counts>;
    try {
      // Without metrics there are no figures, but the tick still carries the last checks.
      stacks = registry === undefined ? new Map() : await read(registry);
    } finally {
      this.sampling = false;
    }
    const at = this.now();
    // The base is the oldest sample still inside the window (the window is a whole number of intervals).
    this.samples = this.samples.filter((s) => s.at >= at - this.window - this.interval / 2);
    const base = this.samples[0];
    this.samples.push({ at, stacks });
    if (base === undefined) return undefined;
    const seconds = (at - base.at) / 1000;
    const services: Record<string, Record<string, StackFigures>> = {};
    for (const [key, counts] of stacks) {
      const [service = '', stack = ''] = key.split('\u0000');
      const ofService = services[service] ?? {};
      services[service] = ofService;
      ofService[stack] = figuresOf(counts, base.stacks.get(key), seconds);
    }
    const point: FiguresPoint = { time: new Date(at).toISOString(), services };
    this.points.push(point);
    if (this.points.length > this.keep) this.points = this.points.slice(-this.keep);
    if (this.listeners.size === 0) return point;
    const checks = this.checks?.();
    const event: FiguresEvent = { type: 'figures', window_ms: this.window, ...point, ...(checks ? { checks } : {}) };
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // One broken subscriber never stops the others or the sampler.
      }
    }
    return point;
  }
}
