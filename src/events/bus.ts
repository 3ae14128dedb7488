import type { Override } from '../config/delivery-schema.js';
import type { RolloutPhase, Weights } from '../routing/service-state.js';

/** What happened to a rollout. */
export type RolloutAction = 'started' | 'step' | 'analysis' | 'gate' | 'paused' | 'resumed' | 'promoted' | 'completed' | 'aborted';

/**
 * Events published on the admin event stream and to webhooks. In a fleet (SPEC §9),
 * changes of shared state carry `origin`: the id of the instance they were made through.
 */
export type SwitchyardEvent =
  | {
      type: 'switch' | 'weights' | 'rollback';
      time: string;
      service: string;
      from: Weights;
      to: Weights;
      active: string;
      generation: number;
      reason: string;
      origin?: string;
    }
  | { type: 'targets'; time: string; service: string; stack: string; targets: readonly string[]; generation: number; origin?: string }
  | { type: 'health'; time: string; service: string; stack: string; target: string; healthy: boolean; source: 'active' | 'passive'; error: string | null }
  | { type: 'failover'; time: string; service: string; from: string; to: string }
  | { type: 'certificate'; time: string; name: string; action: 'added' | 'replaced' | 'deleted'; fingerprint256?: string; origin?: string }
  | { type: 'reload'; time: string; generation: number }
  | { type: 'overrides'; time: string; service: string; overrides: readonly Override[]; generation: number; origin?: string }
  | {
      type: 'rollout';
      time: string;
      service: string;
      action: RolloutAction;
      from: string;
      to: string;
      state: RolloutPhase;
      /** Index of the current step, and how many there are. */
      step: number;
      steps: number;
      weights: Weights;
      analysis: Readonly<Record<string, unknown>> | null;
      reason: string | null;
    }
  | AcmeEvent;

/**
 * An ACME certificate's life: `ordered` (an order starts), `issued` (first certificate),
 * `renewed`, or `failed` (the old certificate, if any, stays; `retry_at` says when the next
 * try is). Installs also publish the usual `certificate` event.
 */
export interface AcmeEvent {
  type: 'acme';
  time: string;
  name: string;
  action: 'ordered' | 'issued' | 'renewed' | 'failed';
  hosts: readonly string[];
  fingerprint256?: string;
  not_after?: string;
  /** When the certificate is renewed next (issued, renewed). */
  next_renewal?: string;
  /** Why the order failed (failed). */
  error?: string;
  /** When the failed order is tried again (failed). */
  retry_at?: string;
}

/** Something that receives every event (event stream, webhooks, logs). */
export type EventListener = (event: SwitchyardEvent) => void;

/** A tiny fan-out bus: publishing never throws into the caller and never awaits. */
export class EventBus {
  private readonly listeners = new Set<EventListener>();

  /** Registers a listener; returns the function that removes it. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Hands `event` to every listener, in subscription order. */
  publish(event: SwitchyardEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A broken listener must never break a switch or the data path.
      }
    }
  }
}
