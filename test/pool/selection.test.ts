import { describe, expect, it } from 'vitest';
import { selectorFor } from '../../src/pool/selection.js';
import { Target } from '../../src/pool/target.js';

const make = (n: number) => Array.from({ length: n }, (_, i) => new Target('svc', 'blue', `10.0.0.${i + 1}:80`, true));

describe('selectorFor', () => {
  it('round_robin cycles through every target in order', () => {
    const ts = make(3);
    const pick = selectorFor('round_robin');
    const cursor = { next: 0 };
    const seen = Array.from({ length: 6 }, () => pick(ts, Date.now(), cursor, undefined)?.address);
    expect(seen).toEqual([...ts, ...ts].map((t) => t.address));
  });

  it('least_conn picks the target with the fewest requests in flight', () => {
    const ts = make(3);
    const load = (t: Target, n: number) => {
      for (let i = 0; i < n; i++) t.beginRequest();
    };
    load(ts[0]!, 5);
    load(ts[1]!, 1);
    load(ts[2]!, 3);
    const pick = selectorFor('least_conn');
    const cursor = { next: 0 };
    for (let i = 0; i < 3; i++) expect(pick(ts, Date.now(), cursor, undefined)).toBe(ts[1]);
  });

  it('random_two prefers the less loaded of its draws and only returns available targets', () => {
    const ts = make(4);
    for (let i = 0; i < 100; i++) ts[0]!.beginRequest();
    const pick = selectorFor('random_two');
    const cursor = { next: 0 };
    const counts = new Map<Target, number>();
    for (let i = 0; i < 400; i++) {
      const t = pick(ts, Date.now(), cursor, undefined)!;
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    // ts[0] wins only when both draws hit it (1/16 of the time).
    expect(counts.get(ts[0]!) ?? 0).toBeLessThan(60);
  });

  it.each(['round_robin', 'least_conn', 'random_two'] as const)('%s skips unhealthy, ejected and excluded targets; undefined when none', (algo) => {
    const ts = make(4);
    const now = Date.now();
    ts[0]!.setHealthy(false);
    ts[1]!.eject(now + 10_000);
    const pick = selectorFor(algo);
    const cursor = { next: 0 };
    for (let i = 0; i < 50; i++) {
      const t = pick(ts, now, cursor, ts[3]);
      expect(t).toBe(ts[2]);
    }
    ts[2]!.setHealthy(false);
    expect(pick(ts, now, cursor, ts[3])).toBeUndefined();
    expect(pick([], now, cursor, undefined)).toBeUndefined();
    // An ejection that has expired makes the target available again.
    expect(pick(ts, now + 20_000, cursor, ts[3])).toBe(ts[1]);
  });
});
