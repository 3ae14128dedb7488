import type { Config } from '../config/schema.js';
import type { SwitchyardEvent } from '../events/bus.js';
import type { ServiceState } from '../routing/service-state.js';

/** One service's stored state and the store's version of it (etcd's mod revision; 0 where the store keeps none). */
export interface VersionedState {
  readonly state: ServiceState;
  readonly version: number;
  /** Instance id that wrote it (shared stores only). */
  readonly origin?: string | undefined;
  /** The event the writing instance published for it, when the store carries one. */
  readonly event?: MutationEvent | undefined;
}

/** The events a mutation publishes (and a shared store carries to the other instances). */
export type MutationEvent = Extract<SwitchyardEvent, { type: 'switch' | 'weights' | 'rollback' | 'targets' | 'overrides' }>;

/** One mutation to store durably. */
export interface StoreCommit {
  readonly service: string;
  /** The service's new state. */
  readonly state: ServiceState;
  /** The stored version the change was computed from (a shared store commits only if it is still current). */
  readonly version: number;
  /** Every service's state with the change in (the file store writes them all). */
  readonly states: ReadonlyMap<string, ServiceState>;
  /** None when only a rollout's bookkeeping changed (no generation, nothing to announce). */
  readonly event: MutationEvent | undefined;
}

/**
 * Where the controller keeps runtime state durably. The file store (embedded default) and
 * the etcd store (a fleet, SPEC §9) implement it; the controller talks to nothing else.
 */
export interface StateStore {
  /** This instance's id when the state is shared (set as `origin` on events), else undefined. */
  readonly origin: string | undefined;
  /** The stored state of the services at start (those `config` declares, or more). */
  loadServices(config: Config): Promise<ReadonlyMap<string, VersionedState>>;
  /**
   * Stores one mutation durably; resolves with its new version once it would survive a
   * crash (file: fsynced; etcd: committed). A shared store refuses a change computed from
   * an older version with StoreConflict.
   */
  commit(change: StoreCommit): Promise<number>;
  /** This instance now serves everything up to `version` (a fleet member publishes it). */
  applied(version: number): void;
  /** `?wait=all`: resolves once every live instance serves `version`; FLEET_LAGGING (504) on timeout. */
  waitForFleet(version: number): Promise<void>;
  /** The last state the store has seen of a service this instance does not serve yet (a reload adding it picks it up). */
  known(service: string): VersionedState | undefined;
}

/** A commit lost a race: the service changed elsewhere since the version it was computed from. */
export class StoreConflict extends Error {
  /** What the store holds now (undefined: nothing, the config applies). */
  readonly current: VersionedState | undefined;

  constructor(service: string, expected: number, current: VersionedState | undefined) {
    super(`service "${service}" changed in the store (version ${expected} is now ${current?.version ?? 'absent'})`);
    this.name = 'StoreConflict';
    this.current = current;
  }
}
