import type { Metric, MetricValue, Registry } from 'prom-client';

/** The counts of one service/stack, kept as plain numbers: the request path only adds. */
export class StackSeries {
  readonly labels: { service: string; stack: string };
  /** Responses per status code. */
  readonly codes = new Map<number, number>();
  /** Upper bounds of the duration buckets, in seconds. */
  readonly bounds: readonly number[];
  /** Non-cumulative count per duration bucket; the last slot is +Inf. */
  readonly buckets: Float64Array;
  sum = 0;
  count = 0;

  constructor(service: string, stack: string, bounds: readonly number[]) {
    this.labels = { service, stack };
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
}

/** What the registry needs of a metric: prom-client calls get() at scrape time. */
interface ExposedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; aggregator: 'sum'; values: MetricValue<string>[] }>;
  reset(): void;
}

/**
 * `switchyard_requests_total` and `switchyard_request_duration_seconds`, counted without
 * prom-client's per-call label hashing (measured: about 13 % of a small request's cost
 * with prom-client children). The numbers live in one StackSeries per service/stack and are
 * turned into series only when Prometheus scrapes, in prom-client's own text format.
 */
export class ResponseSeries {
  private readonly series = new Map<string, StackSeries>();
  private readonly bounds: readonly number[];

  constructor(registry: Registry, names: { requests: string; duration: string }, help: { requests: string; duration: string }, bounds: readonly number[]) {
    this.bounds = bounds;
    registry.registerMetric(this.metric(names.requests, help.requests, 'counter', () => this.requestValues(names.requests)) as unknown as Metric);
    registry.registerMetric(this.metric(names.duration, help.duration, 'histogram', () => this.durationValues(names.duration)) as unknown as Metric);
  }

  /** The counts of one service/stack; the same object across snapshot rebuilds. */
  of(service: string, stack: string): StackSeries {
    const key = `${service}\u0000${stack}`;
    let s = this.series.get(key);
    if (s === undefined) {
      s = new StackSeries(service, stack, this.bounds);
      this.series.set(key, s);
    }
    return s;
  }

  private metric(name: string, help: string, type: 'counter' | 'histogram', values: () => MetricValue<string>[]): ExposedMetric {
    const reset = () => this.series.clear();
    return { name, help, type, aggregator: 'sum', get: async () => ({ name, help, type, aggregator: 'sum', values: values() }), reset };
  }

  private requestValues(name: string): MetricValue<string>[] {
    const out: MetricValue<string>[] = [];
    for (const s of this.series.values()) {
      for (const [code, value] of s.codes) out.push({ labels: { ...s.labels, code: String(code) }, value, metricName: name } as MetricValue<string>);
    }
    return out;
  }

  private durationValues(name: string): MetricValue<string>[] {
    const out: MetricValue<string>[] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += s.buckets[i] as number;
        out.push({ labels: { ...s.labels, le }, value: cumulative, metricName: `${name}_bucket` } as MetricValue<string>);
      });
      out.push({ labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: `${name}_bucket` } as MetricValue<string>);
      out.push({ labels: s.labels, value: s.sum, metricName: `${name}_sum` } as MetricValue<string>);
      out.push({ labels: s.labels, value: s.count, metricName: `${name}_count` } as MetricValue<string>);
    }
    return out;
  }
}
