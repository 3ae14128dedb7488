import { Target } from './target.js';

/** Where a routing build gets its Target objects from. */
export interface TargetSource {
  /** The target of a service/stack/address; `initiallyHealthy` applies when it is new. */
  obtain(service: string, stack: string, address: string, initiallyHealthy: boolean): Target;
}

/**
 * The targets one routing build uses, gathered without changing the registry: a build
 * that is thrown away (a failed reload) leaves no trace; `TargetRegistry.commit` makes
 * the draft current.
 */
export class TargetDraft implements TargetSource {
  /** Every target the build used. */
  readonly live = new Set<Target>();
  /** Targets the registry did not hold yet, by key. */
  readonly added = new Map<string, Target>();
  private readonly existing: ReadonlyMap<string, Target>;

  constructor(existing: ReadonlyMap<string, Target>) {
    this.existing = existing;
  }

  obtain(service: string, stack: string, address: string, initiallyHealthy: boolean): Target {
    const key = keyOf(service, stack, address);
    let target = this.existing.get(key) ?? this.added.get(key);
    if (target === undefined) {
      target = new Target(service, stack, address, initiallyHealthy);
      this.added.set(key, target);
    }
    this.live.add(target);
    return target;
  }
}

function keyOf(service: string, stack: string, address: string): string {
  return `${service}\u0000${stack}\u0000${address}`;
}

/**
 * Keeps one Target object per service/stack/address across snapshot rebuilds, so
 * health and counters survive a switch, a reload or a targets update.
 */
export class TargetRegistry implements TargetSource {
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
    const key = keyOf(service, stack, address);
    let target = this.targets.get(key);
    if (target === undefined) {
      target = new Target(service, stack, address, initiallyHealthy);
      this.targets.set(key, target);
      this.onAdded?.(service, stack, target);
    }
    return target;
  }

  /** A draft for one routing build; nothing changes here until `commit(draft)`. */
  draft(): TargetDraft {
    return new TargetDraft(this.targets);
  }

  /** Makes a draft current: its new targets are added (announced), targets it did not use are dropped. */
  commit(draft: TargetDraft): void {
    for (const [key, target] of draft.added) {
      if (this.targets.has(key)) continue;
      this.targets.set(key, target);
      this.onAdded?.(target.service, target.stack, target);
    }
    this.retain(draft.live);
  }

  /** Forgets every target not in `live` (after a rebuild). */
  retain(live: ReadonlySet<Target>): void {
    for (const [key, target] of this.targets) {
      if (live.has(target)) continue;
      this.targets.delete(key);
      this.onRemoved?.(target.service, target.stack, target);
    }
  }
}
