import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventBus } from '../../src/events/bus.js';
import { PassiveHealth } from '../../src/health/passive.js';
import { Target } from '../../src/pool/target.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(1_000_000);
});
afterEach(() => {
  vi.useRealTimers();
});

const targets = (n: number) => Array.from({ length: n }, (_, i) => new Target('web', 'blue', `127.0.0.1:${8000 + i}`, true));

describe('PassiveHealth', () => {
  describe('#failure', () => {
    it("never ejects a stack's last available target, and ejects it once a sibling is back", () => {
      const events = new EventBus();
      const passive = new PassiveHealth({ failures: 3, cooldown: 10_000 }, events);
      const ejected: string[] = [];
      events.subscribe((e) => e.type === 'health' && e.source === 'passive' && !e.healthy && ejected.push(e.target));
      const [a, b] = targets(2) as [Target, Target];
      const stack = [a, b];
      for (let i = 0; i < 3; i++) passive.failure(a, stack);
      expect(ejected).toEqual([a.address]);
      // b is now the only available target: failing, it keeps being tried.
      for (let i = 0; i < 5; i++) passive.failure(b, stack);
      expect(ejected).toEqual([a.address]);
      expect(b.isAvailable(Date.now())).toBe(true);
      // a's cool-down ends: b's next failure ejects it.
      vi.setSystemTime(1_000_000 + 10_001);
      passive.failure(b, stack);
      expect(ejected).toEqual([a.address, b.address]);
      expect(b.isAvailable(Date.now())).toBe(false);
    });

    it('never ejects the single target of a stack', () => {
      const passive = new PassiveHealth({ failures: 1, cooldown: 10_000 }, new EventBus());
      const [only] = targets(1) as [Target];
      for (let i = 0; i < 10; i++) passive.failure(only, [only]);
      expect(only.isAvailable(Date.now())).toBe(true);
      expect(only.ejectedUntil).toBe(0);
    });

    it('does not count an unhealthy sibling as available', () => {
      const passive = new PassiveHealth({ failures: 1, cooldown: 10_000 }, new EventBus());
      const [a, b] = targets(2) as [Target, Target];
      b.setHealthy(false);
      passive.failure(a, [a, b]);
      expect(a.isAvailable(Date.now())).toBe(true);
    });
  });
});
