import type { Target } from '../pool/target.js';

/** Passive outlier detection settings. */
export interface PassiveOptions {
  /** Consecutive failures (connect errors, 5xx) that eject a target. */
  readonly failures: number;
  /** How long an ejected target sits out, in ms. */
  readonly cooldown: number;
}

/** Called when a target is ejected, for logs and events. */
export type EjectListener = (target: Target) => void;

/**
 * Fed by the request path with each upstream outcome; ejects a target after
 * `failures` consecutive failures, even between active checks. It writes health only
 * through Target's methods.
 */
export class PassiveHealth {
  private readonly options: PassiveOptions;
  onEject: EjectListener | undefined;

  constructor(options: PassiveOptions) {
    this.options = options;
  }

  /** A response head arrived with a status below 500. */
  success(target: Target): void {
    target.clearPassiveFailures();
  }

  /** A connect failure or a 5xx from the target. */
  failure(target: Target): void {
    if (target.countPassiveFailure() < this.options.failures) return;
    target.eject(Date.now() + this.options.cooldown);
    this.onEject?.(target);
  }
}
