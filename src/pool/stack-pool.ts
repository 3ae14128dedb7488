import { NOOP_METER, type StackMeter } from './stack-meter.js';
import { selectorFor, type BalanceAlgorithm, type Selector } from './selection.js';
import type { Target } from './target.js';

/** The targets of one stack of one service, and how to choose among them. */
export class StackPool {
  readonly service: string;
  readonly name: string;
  readonly targets: readonly Target[];
  /** Pre-bound metric instruments of this stack. */
  readonly meter: StackMeter;
  private readonly selector: Selector;
  private readonly cursor = { next: 0 };

  constructor(service: string, name: string, targets: readonly Target[], balance: BalanceAlgorithm, meter: StackMeter = NOOP_METER) {
    this.meter = meter;
    this.service = service;
    this.name = name;
    this.targets = targets;
    this.selector = selectorFor(balance);
  }

  /** An available target other than `exclude`, or undefined when there is none. */
  pick(exclude?: Target): Target | undefined {
    if (this.targets.length === 0) return undefined;
    return this.selector(this.targets, Date.now(), this.cursor, exclude);
  }

  /** True when at least one target is available now. */
  hasAvailable(): boolean {
    const now = Date.now();
    return this.targets.some((t) => t.isAvailable(now));
  }
}
