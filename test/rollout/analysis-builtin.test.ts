import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { StackSeries } from '../../src/metrics/stack-series.js';
import { baseline, judgeInterval, quantileMs } from '../../src/rollout/analysis-builtin.js';
import { formatRatio } from '../../src/rollout/measurement.js';

const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

function analysisOf(analysis: Record<string, unknown>) {
  const config = validateConfig({ listeners: [{ name: 'http', port: 0 }], services: [{ name: 'web', stacks: { blue: {} }, analysis }] });
  return config.services[0]!.analysis;
}

describe('quantileMs', () => {
  it('interpolates within the bucket holding the rank, as histogram_quantile does', () => {
    // 100 answers: 98 at most 10 ms, 2 between 250 and 500 ms → p99 halfway into (250, 500].
    expect(quantileMs([50, 48, 0, 0, 0, 0, 2, 0, 0], BOUNDS, 0.99)).toBeCloseTo(375, 5);
    expect(quantileMs([100, 0, 0, 0, 0, 0, 0, 0, 0], BOUNDS, 0.99)).toBeCloseTo(4.95, 5);
    expect(quantileMs([0, 0, 0, 0, 0, 0, 0, 0, 10], BOUNDS, 0.99)).toBe(1000);
    expect(quantileMs([0, 0, 0, 0, 0, 0, 0, 0, 0], BOUNDS, 0.99)).toBeUndefined();
  });
});

describe('judgeInterval', () => {
  const analysis = analysisOf({ interval: '30s', min_requests: 50, max_error_rate: 0.01, max_p99_ms: 500 });

  function interval(answers: [status: number, seconds: number, times: number][]) {
    const series = new StackSeries({ service: 'web', stack: 'green' }, BOUNDS);
    series.record(200, 0.001); // before the interval: not counted
    series.record(503, 0.001);
    const counts = () => ({ codes: series.codes, buckets: series.buckets, bounds: BOUNDS, count: series.count });
    const start = baseline(counts());
    for (const [status, seconds, times] of answers) for (let i = 0; i < times; i++) series.record(status, seconds);
    return judgeInterval(start, counts(), analysis);
  }

  it('fails on the 5xx share, naming the figure, the interval and the traffic', () => {
    const m = interval([
      [200, 0.002, 374],
      [500, 0.002, 30],
      [502, 0.002, 5],
      [504, 0.002, 3],
      [404, 0.002, 0],
    ]);
    expect(m.verdict).toBe('fail');
    expect(m.summary).toBe('error rate 0.092 > 0.01 over 30s (412 requests)');
    expect(m.figures).toMatchObject({ provider: 'builtin', requests: 412, errors: 38 });
  });

  it('fails on p99 above max_p99_ms', () => {
    const m = interval([
      [200, 0.002, 95],
      [200, 0.9, 5],
    ]);
    expect(m.verdict).toBe('fail');
    expect(m.summary).toMatch(/^p99 \d+ms > 500ms over 30s \(100 requests\)$/);
  });

  it('passes a clean interval and holds one with too little traffic', () => {
    expect(interval([[200, 0.002, 60]])).toMatchObject({ verdict: 'pass', summary: 'error rate 0 <= 0.01, p99 5ms over 30s (60 requests)' });
    expect(interval([[500, 0.002, 49]])).toMatchObject({
      verdict: 'inconclusive',
      summary: '49 requests over 30s, fewer than min_requests 50',
      figures: { requests: 49, error_rate: null },
    });
  });

  it('writes ratios as people read them', () => {
    expect(formatRatio(0.0931)).toBe('0.093');
    expect(formatRatio(0.1)).toBe('0.1');
    expect(formatRatio(0)).toBe('0');
    expect(formatRatio(0.00042)).toBe('0.00042');
  });
});
