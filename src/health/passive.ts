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
 * through Target's public methods.
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
    if (target.passiveFailures !== 0) target.passiveFailures = 0;
  }

  /** A connect failure or a 5xx from the target. */
  failure(target: Target): void {
    target.passiveFailures++;
    if (target.passiveFailures >= this.options.failures) {
      target.passiveFailures = 0;
      target.eject(Date.now() + this.options.cooldown);
      const { service, stack, address } = target;
      const error = 'ejected after consecutive failures';
      this.events.publish({ type: 'health', time: new Date().toISOString(), service, stack, target: address, healthy: false, source: 'passive', error });
    }
  }
}
