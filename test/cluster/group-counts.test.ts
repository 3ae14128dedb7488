import { describe, expect, it } from 'vitest';
import { GroupCounts } from '../../src/cluster/group-counts.js';
import { DURATION_BUCKETS, ResponseCounters, type StackCounts } from '../../src/metrics/stack-series.js';
import type { Target } from '../../src/pool/target.js';

/** The running totals of one process that answered `n` requests with 200 and had `errors` connect failures. */
function counts(n: number, errors = 0): StackCounts {
  const counters = new ResponseCounters(DURATION_BUCKETS);
  const meter = counters.meterFor('web', 'blue');
  for (let i = 0; i < n; i++) meter.response(200, 0.001);
  for (let i = 0; i < errors; i++) meter.upstreamError({ address: '127.0.0.1:1' } as Target, 'connect');
  return counters.changed()[0] as StackCounts;
}

function summed(group: GroupCounts, perWorker = false): Map<string, { count: number; errors: number }> {
  const out = new Map<string, { count: number; errors: number }>();
  for (const { worker, counts: c } of group.entries(perWorker)) {
    const key = worker ?? 'all';
    const was = out.get(key) ?? { count: 0, errors: 0 };
    out.set(key, { count: was.count + c.count, errors: was.errors + c.errors.reduce((n, [, , e]) => n + e, 0) });
  }
  return out;
}

describe('GroupCounts', () => {
  it('sums the latest report of each process, and keeps a dead process’s counts under its worker number', () => {
    const group = new GroupCounts();
    group.update(101, 1, [counts(5)]);
    group.update(101, 1, [counts(7, 1)]); // running totals: replaces, never adds
    group.update(102, 2, [counts(3)]);
    expect(summed(group)).toEqual(new Map([['all', { count: 10, errors: 1 }]]));
    group.retire(101);
    group.update(103, 1, [counts(2)]); // worker 1's new process starts from 0
    expect(summed(group)).toEqual(new Map([['all', { count: 12, errors: 1 }]]));
    expect(summed(group, true)).toEqual(
      new Map([
        ['1', { count: 9, errors: 1 }],
        ['2', { count: 3, errors: 0 }],
      ]),
    );
    group.retire(103);
    group.retire(103);
    expect(summed(group)).toEqual(new Map([['all', { count: 12, errors: 1 }]]));
  });

  it('reports only the series that counted since the last report', () => {
    const counters = new ResponseCounters(DURATION_BUCKETS);
    const web = counters.meterFor('web', 'blue');
    counters.meterFor('api', 'blue');
    web.response(200, 0.2);
    expect(counters.changed().map((c) => [c.service, c.count])).toEqual([['web', 1]]);
    expect(counters.changed()).toEqual([]);
    web.upstreamError({ address: '127.0.0.1:1' } as Target, 'timeout');
    expect(counters.changed()[0]?.errors).toEqual([['127.0.0.1:1', 'timeout', 1]]);
  });
});
