import { describe, expect, it } from 'vitest';
import { TargetRegistry } from '../../src/pool/registry.js';

describe('TargetRegistry', () => {
  it('hands out one Target per service, stack and address, announcing each new one once', () => {
    const registry = new TargetRegistry();
    const added: string[] = [];
    registry.onAdded = (service, stack, target) => added.push(`${service}/${stack}/${target.address}`);
    const a = registry.obtain('web', 'blue', '10.0.0.1:80', true);
    expect(registry.obtain('web', 'blue', '10.0.0.1:80', false)).toBe(a);
    expect(registry.obtain('web', 'green', '10.0.0.1:80', true)).not.toBe(a);
    expect(added).toEqual(['web/blue/10.0.0.1:80', 'web/green/10.0.0.1:80']);
  });

  it('forgets targets no longer live, announcing each removal, and recreates them fresh', () => {
    const registry = new TargetRegistry();
    const removed: string[] = [];
    registry.onRemoved = (service, stack, target) => removed.push(`${service}/${stack}/${target.address}`);
    const keep = registry.obtain('web', 'blue', '10.0.0.1:80', true);
    const drop = registry.obtain('web', 'blue', '10.0.0.2:80', true);
    registry.retain(new Set([keep]));
    expect(removed).toEqual(['web/blue/10.0.0.2:80']);
    expect(registry.obtain('web', 'blue', '10.0.0.1:80', true)).toBe(keep);
    expect(registry.obtain('web', 'blue', '10.0.0.2:80', true)).not.toBe(drop);
  });
});
