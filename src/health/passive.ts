import type { EventBus } from '../events/bus.js';
import type { Target } from '../pool/target.js';

/** Passive outlier detection settings. */
export interface PassiveOptions {
  /** Consecutive failures (connect errors, 5xx) that eject a target. */
  readonly failures: number;
  /** How long an ejected target sits out, in ms. */
  readonly cooldown: number;
}

/**
 * Fed by the request path with each upstream outcome; ejects a target after
 * `failures` consecutive failures, even between active checks. It writes health only
 * through Target's methods.
 */
export class PassiveHealth {
  /** Replaced by a config reload (`upstream.max_fails`, `upstream.fail_timeout`). */
  options: PassiveOptions;
  private readonly events: EventBus;

  constructor(options: PassiveOptions, events: EventBus) {
    this.options = options;
    this.events = events;
  }

  /** A response head arrived with a status below 500. */
  success(target: Target): void {
    target.clearPassiveFailures();
  }

  /**
   * A connect failure, timeout, broken response or 5xx from `target`, one of `stack`.
   * The stack's last available target is never ejected (as nginx never marks the last
   * server of an upstream down): ejecting it turns every request into a 503 for the
   * whole cool-down, even once it answers again; it keeps being tried instead, and is
   * ejected on its next failure once a sibling is available again.
   */
  failure(target: Target, stack: readonly Target[]): void {
    if (target.countPassiveFailure() < this.options.failures) return;
    const now = Date.now();
    if (!hasOtherAvailable(stack, target, now)) return;
    target.eject(now + this.options.cooldown);
    const { service, stack: stackName, address } = target;
    const error = 'ejected after consecutive failures';
    this.events.publish({
      type: 'health',
      time: new Date(now).toISOString(),
      service,
      stack: stackName,
      target: address,
      healthy: false,
      source: 'passive',
      error,
    });
  }
}

function hasOtherAvailable(stack: readonly Target[], target: Target, now: number): boolean {
  for (const other of stack) if (other !== target && other.isAvailable(now)) return true;
  return false;
}
