import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ResponseSeries } from '../../src/metrics/response-series.js';

describe('ResponseSeries', () => {
  it('exposes counts per code and a cumulative histogram in the Prometheus text format', async () => {
    const registry = new Registry();
    const series = new ResponseSeries(registry, { requests: 'r_total', duration: 'd_seconds' }, { requests: 'requests', duration: 'durations' }, [0.1, 1]);
    const blue = series.of('web', 'blue');
    expect(series.of('web', 'blue')).toBe(blue);
    blue.record(200, 0.05);
    blue.record(200, 0.1); // on the bound: counted in it (le is inclusive)
    blue.record(502, 0.5);
    blue.record(200, 3);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE r_total counter');
    expect(text).toContain('r_total{service="web",stack="blue",code="200"} 3');
    expect(text).toContain('r_total{service="web",stack="blue",code="502"} 1');
    expect(text).toContain('# TYPE d_seconds histogram');
    expect(text).toContain('d_seconds_bucket{service="web",stack="blue",le="0.1"} 2');
    expect(text).toContain('d_seconds_bucket{service="web",stack="blue",le="1"} 3');
    expect(text).toContain('d_seconds_bucket{service="web",stack="blue",le="+Inf"} 4');
    expect(text).toContain('d_seconds_sum{service="web",stack="blue"} 3.65');
    expect(text).toContain('d_seconds_count{service="web",stack="blue"} 4');
  });
});
