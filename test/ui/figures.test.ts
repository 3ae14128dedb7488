import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Figures, type FiguresEvent } from '../../src/metrics/figures.js';
import { histogramQuantile } from '../../src/metrics/histogram-quantile.js';
import { ResponseSeries } from '../../src/metrics/response-series.js';

const BOUNDS = [0.005, 0.01, 0.1, 1];

/** The two series the figures read, under their real names, in a registry of their own. */
function setup() {
  const registry = new Registry();
  const series = new ResponseSeries(
    registry,
    { requests: 'switchyard_requests_total', duration: 'switchyard_request_duration_seconds' },
    { requests: 'requests', duration: 'durations' },
    BOUNDS,
  );
  let now = 1_000_000;
  const figures = new Figures(() => registry, { interval: 2000, window: 10_000, keep: 3, now: () => now });
  return { registry, series, figures, advance: (ms: number) => (now += ms) };
}

describe('histogramQuantile', () => {
  it('interpolates inside the bucket the rank falls in, as Prometheus does', () => {
    // 50 responses up to 0.1 s, 50 more up to 1 s: rank 99 is 49/50 of the way through (0.1, 1].
    expect(histogramQuantile(0.99, [0.1, 1], [50, 100], 100)).toBeCloseTo(0.1 + 0.9 * (49 / 50), 10);
    expect(histogramQuantile(0.5, [0.1, 1], [50, 100], 100)).toBeCloseTo(0.1, 10);
    expect(histogramQuantile(0.25, [0.1, 1], [50, 100], 100)).toBeCloseTo(0.05, 10);
  });

  it('answers the highest finite bound when the rank is in the +Inf bucket, and null without responses', () => {
    expect(histogramQuantile(0.99, [0.1, 1], [0, 0], 10)).toBe(1);
    expect(histogramQuantile(0.99, [0.1, 1], [0, 0], 0)).toBeNull();
  });
});

describe('Figures', () => {
  it('computes req/s, 5xx ratio and p99 per stack from the metrics counts over the window', async () => {
    const { series, figures, advance } = setup();
    const events: FiguresEvent[] = [];
    figures.subscribe((event) => events.push(event));
    expect(await figures.sample()).toBeUndefined(); // the baseline: nothing to compare with yet

    const blue = series.of('web', 'blue');
    for (let i = 0; i < 8; i++) blue.record(200, 0.003);
    blue.record(503, 0.05);
    blue.record(502, 0.5);
    series.of('web', 'green').record(200, 0.002);
    advance(2000);
    const point = await figures.sample();

    const web = point?.services.web;
    expect(web?.blue).toMatchObject({ requests: 10, rps: 5, error_ratio: 0.2 });
    // Rank 9.9 of 10 lies in (0.1, 1], where the one 0.5 s response is: 0.1 + 0.9 × 0.9.
    expect(web?.blue?.p99_ms).toBeCloseTo(910, 5);
    expect(web?.green).toMatchObject({ requests: 1, rps: 0.5, error_ratio: 0 });
    expect(web?.green?.p99_ms).toBeCloseTo(4.95, 1); // 0.99 of the way through (0, 5 ms], to 0.1 ms
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'figures', window_ms: 10_000, time: point?.time });
  });

  it('forgets requests older than the window and keeps only the last samples', async () => {
    const { series, figures, advance } = setup();
    await figures.sample();
    series.of('web', 'blue').record(200, 0.001);
    for (let i = 0; i < 5; i++) {
      advance(2000);
      await figures.sample();
    }
    expect(figures.history().points.at(-1)?.services.web?.blue?.requests).toBe(1);
    advance(2000);
    const later = await figures.sample();
    expect(later?.services.web?.blue).toEqual({ requests: 0, rps: 0, error_ratio: null, p99_ms: null });
    expect(figures.history()).toMatchObject({ enabled: true, interval_ms: 2000, window_ms: 10_000 });
    expect(figures.history().points).toHaveLength(3);
  });

  it('counts from zero after the counters were reset, never negative', async () => {
    const { registry, series, figures, advance } = setup();
    for (let i = 0; i < 10; i++) series.of('web', 'blue').record(200, 0.001);
    await figures.sample();
    registry.resetMetrics();
    series.of('web', 'blue').record(200, 0.001);
    advance(2000);
    expect((await figures.sample())?.services.web?.blue?.requests).toBe(1);
  });

  it('has no figures while metrics are disabled, but still ticks with the last checks', async () => {
    let now = 0;
    const checks = { web: { blue: { '10.0.0.1:80': '2026-01-01T00:00:00.000Z', '10.0.0.2:80': null } } };
    const figures = new Figures(() => undefined, { now: () => now, checks: () => checks });
    const events: FiguresEvent[] = [];
    figures.subscribe((event) => events.push(event));
    expect(await figures.sample()).toBeUndefined();
    now += 2000;
    expect((await figures.sample())?.services).toEqual({});
    expect(figures.history()).toMatchObject({ enabled: false, interval_ms: 2000, window_ms: 10_000 });
    expect(events).toEqual([{ type: 'figures', window_ms: 10_000, time: new Date(2000).toISOString(), services: {}, checks }]);
  });

  it('keeps publishing to the other subscribers when one throws', async () => {
    const { figures, advance } = setup();
    const seen: string[] = [];
    figures.subscribe(() => {
      throw new Error('broken subscriber');
    });
    figures.subscribe((event) => seen.push(event.time));
    await figures.sample();
    advance(2000);
    await figures.sample();
    expect(seen).toHaveLength(1);
  });
});
