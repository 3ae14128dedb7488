import type { Logger } from 'pino';
import type { Override } from '../config/delivery-schema.js';
import type { Config } from '../config/schema.js';
import { SwitchyardError } from '../errors.js';
import { EventBus } from '../events/bus.js';
import { TargetRegistry } from '../pool/registry.js';
import type { MeterFactory } from '../pool/stack-meter.js';
import type { ServiceRoute } from '../routing/service-route.js';
import type { ServiceState } from '../routing/service-state.js';
import type { RoutingSnapshot } from '../routing/snapshot.js';
import { SerialQueue } from '../serial-queue.js';
import {
  type Change,
  type MutationOptions,
  overridesChange,
  rollbackChange,
  rolloutChange,
  type RolloutWrite,
  switchChange,
  targetsChange,
  weightsChange,
} from './changes.js';
import type { ControllerOptions, ReloadStep, SnapshotApplier } from './controller-hooks.js';
import { carryOver } from './reconcile.js';
import { remoteEvents } from './remote-events.js';
import { type MergeMode, mergeStored } from './remote-merge.js';
import { RoutingSlot } from './routing-slot.js';
import { type MutationEvent, type StateStore, StoreConflict, type VersionedState } from './state-store.js';

export type { MutationOptions, RolloutWrite } from './changes.js';
export type { ControllerOptions, ReloadStep, SnapshotApplier } from './controller-hooks.js';

/** A mutation that keeps losing the race to other fleet instances gives up after this many tries (409). */
const CONFLICT_ATTEMPTS = 5;

/**
 * Owns the routing (through its slot, routing-slot.ts) and the durable state. Every
 * mutation is serialized, stored durably, then applied by swapping the snapshot; a
 * reload is serialized the same way, and applied only once everything it needs is ready.
 * What a mutation decides is in changes.ts, how state fits a config in reconcile.ts, which
 * remote state applies in remote-merge.ts; here are the queue, the durable commit and
 * when a new snapshot goes live.
 */
export class StateController {
  readonly registry: TargetRegistry;
  readonly events: EventBus;
  private readonly routing: RoutingSlot;
  private config: Config;
  private states: Map<string, ServiceState>;
  /** The store's version of each service's state (etcd mod revision): a commit names it, a remote change must be newer. */
  private versions: Map<string, number>;
  private readonly store: StateStore;
  private readonly log: Logger;
  private readonly queue = new SerialQueue();
  private applier: SnapshotApplier | undefined;
  private readonly remoteListeners = new Set<(service: string) => void>();

  private constructor(
    config: Config,
    states: Map<string, ServiceState>,
    versions: Map<string, number>,
    store: StateStore,
    log: Logger,
    options: ControllerOptions,
  ) {
    this.config = config;
    this.states = states;
    this.versions = versions;
    this.store = store;
    this.log = log;
    this.registry = options.registry ?? new TargetRegistry();
    this.events = options.events ?? new EventBus();
    this.routing = new RoutingSlot(config, states, this.registry);
  }

  /** Loads the stored state (the file store throws StateFileError when it is corrupt) and builds the first snapshot. */
  static async open(config: Config, store: StateStore, log: Logger, options: ControllerOptions = {}): Promise<StateController> {
    const stored = await store.loadServices(config);
    const { states, versions } = carryOver(config, new Map(), new Map(), (name) => stored.get(name), log);
    return new StateController(config, states, versions, store, log, options);
  }

  /** The current routing snapshot: the request path reads this once per request. Only the controller replaces it. */
  get snapshot(): RoutingSnapshot {
    return this.routing.snapshot;
  }

  /** Installs the metrics factory and rebuilds so every pool gets its pre-bound meter. */
  useMeters(meters: MeterFactory): void {
    this.routing.useMeters(meters);
    this.routing.install(this.routing.build(this.config, this.states));
  }

  /** Installs the step each new snapshot of a mutation or reload is awaited through before it answers. */
  applyWith(applier: SnapshotApplier): void {
    this.applier = applier;
  }

  /** Calls `listener` with each service another fleet instance changed, once that is live here (rollout drivers follow records written elsewhere); returns the unsubscribe. */
  onRemoteChange(listener: (service: string) => void): () => void {
    this.remoteListeners.add(listener);
    return () => this.remoteListeners.delete(listener);
  }

  /** The current config. */
  get currentConfig(): Config {
    return this.config;
  }

  /** The route of a service, or a 404 error. */
  service(name: string): ServiceRoute {
    const route = this.snapshot.services.get(name);
    if (!route) throw new SwitchyardError('UNKNOWN_SERVICE', `no service "${name}"`);
    return route;
  }

  /** Atomic cut-over: `stack` gets all the weight. */
  switchTo(service: string, stack: string, options: MutationOptions = {}): Promise<ServiceRoute> {
    return this.mutate(service, options, (route) => switchChange(route, stack, options));
  }

  /** Splits traffic by integer weights; stacks left out get 0. */
  setWeights(service: string, weights: Record<string, number>, options: MutationOptions = {}): Promise<ServiceRoute> {
    return this.mutate(service, options, (route) => weightsChange(route, weights, options));
  }

  /** Back to the weights before the last change. */
  rollback(service: string, options: MutationOptions = {}): Promise<ServiceRoute> {
    return this.mutate(service, options, (route) => rollbackChange(route, options));
  }

  /** Replaces a stack's targets (service registration). */
  setTargets(service: string, stack: string, targets: readonly string[], options: MutationOptions = {}): Promise<ServiceRoute> {
    return this.mutate(service, options, (route) => targetsChange(route, stack, targets));
  }

  /** Replaces the service's overrides at run time (they win over the config's from now on). */
  setOverrides(service: string, overrides: readonly Override[], options: MutationOptions = {}): Promise<ServiceRoute> {
    return this.mutate(service, options, (route) => overridesChange(route, overrides));
  }

  /**
   * Records a rollout's state in one durable step. With `weights` it is also an ordinary
   * weight change (generation, history entry, event, `on_switch`); without, only the
   * record changes (no generation, no history). `change` runs inside the serialized
   * mutation with the current route (again, after a lost fleet race) and throws to write nothing.
   */
  recordRollout(service: string, change: (route: ServiceRoute) => RolloutWrite): Promise<ServiceRoute> {
    return this.mutate(service, {}, (route) => rolloutChange(route, change(route)));
  }

  /**
   * Applies a new config (SIGHUP), all or nothing: the new routing is built off to the
   * side, `step.prepare` runs (a throw there cancels the reload and leaves everything as
   * it was), then the routing goes live in one swap and `step.commit` runs. Runtime state
   * carries over where it still fits.
   */
  reload(config: Config, step?: ReloadStep): Promise<RoutingSnapshot> {
    return this.queue.run(async () => {
      // A service new to this config may already have a state in a shared store.
      const { states, versions } = carryOver(config, this.states, this.versions, (name) => this.store.known(name), this.log);
      const built = this.routing.build(config, states);
      await step?.prepare();
      this.config = config;
      this.states = states;
      this.versions = versions;
      this.routing.install(built);
      step?.commit();
      await this.applier?.(this.routing.snapshot);
      this.events.publish({ type: 'reload', time: new Date().toISOString(), generation: this.routing.snapshot.generation });
      return this.routing.snapshot;
    });
  }

  /**
   * Applies state that changed outside this instance: another fleet instance's change
   * from the store's watch, or (`full`) the store's whole state after an outage or a
   * compaction, where the store wins. Runs after any mutation in flight.
   */
  applyRemote(changes: ReadonlyMap<string, VersionedState | undefined>, full = false): Promise<void> {
    return this.queue.run(() => this.applyStored(changes, full ? 'all' : 'newer'));
  }

  /**
   * The one place remote state goes live (which state applies by `mode`: mergeStored).
   * One rebuild for all, then the events of each changed service, with the writer as `origin`.
   */
  private async applyStored(changes: ReadonlyMap<string, VersionedState | undefined>, mode: MergeMode): Promise<void> {
    const merged = mergeStored(this.config, this.states, this.versions, changes, mode, this.log);
    this.versions = merged.versions;
    if (merged.changed.length === 0) return;
    const before = this.routing.snapshot;
    this.states = merged.states;
    this.routing.install(this.routing.build(this.config, merged.states));
    await this.applier?.(this.routing.snapshot);
    for (const { name, stored } of merged.changed) {
      for (const event of remoteEvents(before.services.get(name), this.service(name), stored)) this.events.publish(event);
      for (const listener of this.remoteListeners) listener(name);
    }
  }

  private mutate(service: string, options: MutationOptions, change: (route: ServiceRoute) => Change): Promise<ServiceRoute> {
    if (options.wait !== 'all') return this.queue.run(async () => (await this.commit(service, options, change)).route);
    // Outside the queue: waiting for the fleet must not hold up the next mutation.
    return this.queue
      .run(() => this.commit(service, options, change))
      .then(async ({ route, version }) => {
        await this.store.waitForFleet(version);
        return route;
      });
  }

  /** Decides, stores durably, then applies one mutation; a lost race (a shared store) adopts the winner and decides again. */
  private async commit(service: string, options: MutationOptions, change: (route: ServiceRoute) => Change): Promise<{ route: ServiceRoute; version: number }> {
    for (let attempt = 1; ; attempt++) {
      const route = this.service(service);
      if (options.ifMatch !== undefined && options.ifMatch !== route.state.generation) {
        throw new SwitchyardError('PRECONDITION_FAILED', `service "${service}" is at generation ${route.state.generation}, not ${options.ifMatch}`);
      }
      const decided = change(route);
      const origin = this.store.origin;
      const event: MutationEvent | undefined = origin === undefined || decided.event === undefined ? decided.event : { ...decided.event, origin };
      const state = decided.state;
      let version: number;
      try {
        version = await this.store.commit({
          service,
          state,
          version: this.versions.get(service) ?? 0,
          states: new Map(this.states).set(service, state),
          event,
        });
      } catch (err) {
        if (err instanceof StoreConflict) {
          // Another instance changed the service first: take its state and decide again
          // on it (an If-Match naming the old generation now fails with 412).
          await this.applyStored(new Map([[service, err.current]]), 'current');
          if (attempt < CONFLICT_ATTEMPTS) continue;
          throw new SwitchyardError('CONCURRENT_CHANGE', `service "${service}" changed on other instances ${attempt} times meanwhile; try again`);
        }
        if (err instanceof SwitchyardError) throw err;
        this.log.error({ err }, 'state write failed; change not applied');
        throw new SwitchyardError('STATE_WRITE_FAILED', `state write failed: ${(err as Error).message}`);
      }
      this.states = new Map(this.states).set(service, state);
      this.versions.set(service, version);
      this.routing.install(this.routing.build(this.config, this.states));
      await this.applier?.(this.routing.snapshot);
      const updated = this.service(service);
      if (event !== undefined) this.events.publish('active' in event ? { ...event, active: updated.active.name } : event);
      this.store.applied(version);
      return { route: updated, version };
    }
  }
}
