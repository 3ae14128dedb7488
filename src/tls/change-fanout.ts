/**
 * Who hears of a certificate change once the store made it: listeners in this process
 * (TLS servers rebuilding their base context, ACME), the other processes (the worker group
 * applies each change on every worker) and the event bus. Apart from the store because
 * it is the same three steps, in the same order, after every add, replace and delete.
 */

import type { Logger } from 'pino';
import { messageOf } from '../errors.js';
import type { EventBus } from '../events/bus.js';

/** A certificate change as other processes apply it (worker processes): a pair to serve under `name`, or `name` to drop. */
export type CertificateChange =
  | { readonly action: 'set'; readonly name: string; readonly hosts: readonly string[]; readonly cert: string; readonly key: string; readonly keyType: string }
  | { readonly action: 'delete'; readonly name: string };

/** The `certificate` event of a change, less its type, name and time. */
export interface CertificateEventFields {
  readonly action: 'added' | 'replaced' | 'deleted';
  readonly fingerprint256: string;
  /** The fleet instance the change was made through, when it was not this one. */
  readonly origin?: string;
}

/** The listeners, the other processes and the event bus, told of each change in that order. */
export class ChangeFanout {
  private readonly listeners = new Set<(name: string) => void>();
  private applier: ((change: CertificateChange) => Promise<void>) | undefined;

  constructor(
    private readonly log: Logger,
    private readonly events: EventBus | undefined,
  ) {}

  /** Calls `listener(name)` after each change; returns the unsubscribe function. */
  subscribe(listener: (name: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Installs the step every change is awaited through (see CertificateStore.applyWith). Must not throw. */
  applyWith(applier: (change: CertificateChange) => Promise<void>): void {
    this.applier = applier;
  }

  /**
   * Tells everyone of `change`: the listeners, then every process (awaited), then the bus
   * with an event stamped `at` (epoch ms; default: once every process has the change).
   */
  async announce(change: CertificateChange, event: CertificateEventFields, at?: number): Promise<void> {
    const name = change.name;
    for (const listener of this.listeners) {
      try {
        listener(name);
      } catch (err) {
        this.log.error({ certificate: name, err: messageOf(err) }, 'certificate change listener failed');
      }
    }
    await this.applier?.(change);
    this.events?.publish({ type: 'certificate', time: new Date(at ?? Date.now()).toISOString(), name, ...event });
  }
}
