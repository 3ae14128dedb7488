import { Target } from './target.js';

/**
 * Keeps one Target object per service/stack/address across snapshot rebuilds, so
 * health and counters survive a switch, a reload or a targets update.
 */
export class TargetRegistry {
  private readonly targets = new Map<string, Target>();
  /** Called for each target created (the health checker starts probing it). */
  onAdded: ((service: string, stack: string, target: Target) => void) | undefined;
  /** Called for each target dropped by `retain`. */
  onRemoved: ((service: string, stack: string, target: Target) => void) | undefined;

  /**
   * The target for an address, created when new. `initiallyHealthy` is false for
   * services with active checks: a new target must pass a check before it takes traffic.
   */
  obtain(service: string, stack: string, address: string, initiallyHealthy: boolean): Target {
    const key = `${service}\u0000${stack}\u0000${address}`;
    let target = this.targets.get(key);
    if (target === undefined) {
      target = new Target(service, stack, address, initiallyHealthy);
      this.targets.set(key, target);
      this.onAdded?.(service, stack, target);
    }
    return target;
  }

  /** Forgets every target not in `live` (after a rebuild). */
  retain(live: ReadonlySet<Target>): void {
    for (const [key, target] of this.targets) {
      if (live.has(target)) continue;
      this.targets.delete(key);
      const [service = '', stack = ''] = key.split('\u0000');
      this.onRemoved?.(service, stack, target);
    }
  }
}
