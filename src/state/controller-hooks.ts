import type { EventBus } from '../events/bus.js';
import type { TargetRegistry } from '../pool/registry.js';
import type { RoutingSnapshot } from '../routing/snapshot.js';

/*
 * How the rest of the process takes part in what the state controller makes live: the
 * bus and registry it shares, the step a reload carries (binding listeners) and the
 * applier every new snapshot goes through (the worker push). Interfaces only, so the
 * modules implementing them need not import the controller itself.
 */

/** What goes with a reload and must succeed or fail with it (binding new listeners). */
export interface ReloadStep {
  /** Runs while the new routing is built but not live; throws to cancel the reload, having undone its own work. */
  prepare(): Promise<void>;
  /** Runs right after the new routing went live; must not throw. */
  commit(): void;
}

/**
 * Hands a snapshot that just went live to the processes serving clients (the worker group
 * pushes it to every worker); a mutation or reload answers only once it resolves. Must not throw.
 */
export type SnapshotApplier = (snapshot: RoutingSnapshot) => Promise<void>;

/** What a controller shares with the rest of the process. */
export interface ControllerOptions {
  /** The bus its events go to (switches, targets, reloads); a new one when left out. */
  readonly events?: EventBus;
  readonly registry?: TargetRegistry;
}
