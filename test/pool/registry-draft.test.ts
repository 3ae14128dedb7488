import { describe, expect, it } from 'vitest';
import { TargetRegistry } from '../../src/pool/registry.js';

describe('TargetRegistry', () => {
  describe('#draft', () => {
    it('hands out existing targets and new ones without touching the registry', () => {
      const registry = new TargetRegistry();
      const added: string[] = [];
      registry.onAdded = (_s, _st, t) => added.push(t.address);
      const kept = registry.obtain('web', 'blue', '10.0.0.1:80', true);
      added.length = 0;
      const draft = registry.draft();
      expect(draft.obtain('web', 'blue', '10.0.0.1:80', false)).toBe(kept);
      const fresh = draft.obtain('web', 'blue', '10.0.0.2:80', false);
      expect(draft.obtain('web', 'blue', '10.0.0.2:80', true)).toBe(fresh);
      expect(fresh.healthy).toBe(false);
      expect(added).toEqual([]);
      // A thrown-away draft leaves the registry as it was: a later draft makes its own.
      expect(registry.draft().obtain('web', 'blue', '10.0.0.2:80', false)).not.toBe(fresh);
    });
  });

  describe('#commit', () => {
    it('adds the draft new targets, announcing them, and drops the ones it did not use', () => {
      const registry = new TargetRegistry();
      const events: string[] = [];
      registry.onAdded = (_s, _st, t) => events.push(`+${t.address}`);
      registry.onRemoved = (_s, _st, t) => events.push(`-${t.address}`);
      const old = registry.obtain('web', 'blue', '10.0.0.1:80', true);
      events.length = 0;
      const draft = registry.draft();
      const fresh = draft.obtain('web', 'blue', '10.0.0.2:80', true);
      registry.commit(draft);
      expect(events).toEqual(['+10.0.0.2:80', '-10.0.0.1:80']);
      expect(registry.obtain('web', 'blue', '10.0.0.2:80', true)).toBe(fresh);
      expect(registry.obtain('web', 'blue', '10.0.0.1:80', true)).not.toBe(old);
    });
  });
});
