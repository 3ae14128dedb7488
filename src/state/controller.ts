import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { type Override, STACK_ROLES } from '../config/delivery-schema.js';
import type { Config, ServiceConfig } from '../config/schema.js';
import { SwitchyardError } from '../errors.js';
import { EventBus } from '../events/bus.js';
import { NOOP_METER, type MeterFactory } from '../pool/stack-meter.js';
import { type TargetDraft, TargetRegistry } from '../pool/registry.js';
import type { ServiceRoute } from '../routing/service-route.js';
import { abortedRollout, type HistoryEntry, type RolloutRecord, rolloutInProgress, type ServiceState, type Weights } from '../routing/service-state.js';
import { buildSnapshot, initialState, type RoutingSnapshot } from '../routing/snapshot.js';
import { SerialQueue } from '../serial-queue.js';
import { fitDelivery } from './fit-delivery.js';
import { remoteEvents } from './remote-events.js';
import { type MutationEvent, type StateStore, StoreConflict, type VersionedState } from './state-store.js';

/** Kept per service so rollback has somewhere to go and the file stays small. */
const HISTORY_LIMIT = 100;

/** A mutation that keeps losing the race to other fleet instances gives up after this many tries (409). */
const CONFLICT_ATTEMPTS = 5;

/** Options every mutation accepts. */
export interface MutationOptions {
  /** Generation the caller last saw (If-Match); a stale one gets 412. */
  readonly ifMatch?: number | undefined;
  /** Proceed even when the receiving stack has no healthy target. */
  readonly force?: boolean | undefined;
  readonly reason?: string | undefined;
  readonly actor?: string | undefined;
  /** `all`: answer only once every live fleet instance serves the change (`?wait=all`). */
  readonly wait?: 'all' | undefined;
}

/** What a rollout writes in one durable step: its record and, with `weights`, a weight change. */
export interface RolloutWrite {
  readonly rollout: RolloutRecord;
  /** Weights to apply as an ordinary weight change (generation, history entry, event); stacks left out get 0. */
  readonly weights?: Weights | undefined;
  /** History reason of the weight change, e.g. `rollout step 2/6: weight 50`. */
  readonly reason?: string | undefined;
  /** Apply even when a stack gaining weight has no healthy target (an abort going back). */
  readonly force?: boolean | undefined;
}

/** A mutation's new state and the event announcing it (none for a rollout's bookkeeping). */
interface Change {
  readonly state: ServiceState;
  readonly event?: MutationEvent | undefined;
}

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

/** A built snapshot and the registry draft its targets came from, not yet live. */
interface Built {
  readonly snapshot: RoutingSnapshot;
  readonly draft: TargetDraft;
}

/** What a controller shares with the rest of the process. */
export interface ControllerOptions {
  /** The bus its events go to (switches, targets, reloads); a new one when left out. */
  readonly events?: EventBus;
  readonly registry?: TargetRegistry;
}

/**
 * Owns the one mutable pointer to the routing snapshot and the durable state. Every
 * mutation is serialized, stored durably, then applied by swapping the snapshot; a
 * reload is serialized the same way, and applied only once everything it needs is ready.
 */
export class StateController {
  readonly registry: TargetRegistry;
  readonly events: EventBus;
  private current: RoutingSnapshot;
  private config: Config;
  private states: Map<string, ServiceState>;
  /** The store's version of each service's state (etcd mod revision): a commit names it, a remote change must be newer. */
  private versions: Map<string, number>;
  private readonly store: StateStore;
  private readonly log: Logger;
  private readonly queue = new SerialQueue();
  private meters: MeterFactory = () => NOOP_METER;
  private applier: SnapshotApplier | undefined;

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
    const draft = this.registry.draft();
    this.current = buildSnapshot(config, states, draft, 1);
    this.registry.commit(draft);
  }

  /** Loads the stored state (the file store throws StateFileError when it is corrupt) and builds the first snapshot. */
  static async open(config: Config, store: StateStore, log: Logger, options: ControllerOptions = {}): Promise<StateController> {
    const stored = await store.loadServices(config);
    const states = new Map<string, ServiceState>();
    const versions = new Map<string, number>();
    for (const service of config.services) {
      const found = stored.get(service.name);
      if (!found) continue;
      states.set(service.name, reconcile(service, found.state, log));
      versions.set(service.name, found.version);
    }
    return new StateController(config, states, versions, store, log, options);
  }

  /** The current routing snapshot: the request path reads this once per request. Only the controller replaces it. */
  get snapshot(): RoutingSnapshot {
    return this.current;
  }

  /** Installs the metrics factory and rebuilds so every pool gets its pre-bound meter. */
  useMeters(meters: MeterFactory): void {
    this.meters = meters;
    this.install(this.build(this.config, this.states));
  }

  /** Installs the step each new snapshot of a mutation or reload is awaited through before it answers. */
  applyWith(applier: SnapshotApplier): void {
    this.applier = applier;
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
    return this.mutate(service, options, (route) => {
      if (!route.stacks.has(stack)) throw new SwitchyardError('UNKNOWN_STACK', `service "${service}" has no stack "${stack}"`);
      const weights = Object.fromEntries(route.pools.map((p) => [p.name, p.name === stack ? 100 : 0]));
      return this.manualChange(route, weights, 'switch', options);
    });
  }

  /** Splits traffic by integer weights; stacks left out get 0. */
  setWeights(service: string, weights: Record<string, number>, options: MutationOptions = {}): Promise<ServiceRoute> {
    return this.mutate(service, options, (route) => {
      for (const [name, weight] of Object.entries(weights)) {
        if (!route.stacks.has(name)) throw new SwitchyardError('UNKNOWN_STACK', `service "${service}" has no stack "${name}"`);
        if (!Number.isInteger(weight) || weight < 0) throw new SwitchyardError('INVALID_WEIGHTS', `weight of "${name}" must be a non-negative integer`);
      }
      const full = Object.fromEntries(route.pools.map((p) => [p.name, weights[p.name] ?? 0]));
      if (Object.values(full).every((w) => w === 0)) throw new SwitchyardError('INVALID_WEIGHTS', 'weights must not all be zero');
      return this.manualChange(route, full, 'weights', options);
    });
  }

  /** Back to the weights before the last change. */
  rollback(service: string, options: MutationOptions = {}): Promise<ServiceRoute> {
    return this.mutate(service, options, (route) => {
      const last = route.state.history.at(-1);
      if (!last) throw new SwitchyardError('NO_HISTORY', `service "${service}" has no change to roll back`);
      const weights = Object.fromEntries(route.pools.map((p) => [p.name, last.from[p.name] ?? 0]));
      if (Object.values(weights).every((w) => w === 0)) throw new SwitchyardError('NO_HISTORY', 'the previous weights no longer apply');
      return this.manualChange(route, weights, 'rollback', options);
    });
  }

  /** Replaces a stack's targets (service registration). */
  setTargets(service: string, stack: string, targets: readonly string[], options: MutationOptions = {}): Promise<ServiceRoute> {
    return this.mutate(service, options, (route) => {
      if (!route.stacks.has(stack)) throw new SwitchyardError('UNKNOWN_STACK', `service "${service}" has no stack "${stack}"`);
      const state = route.state;
      const next: ServiceState = { ...state, generation: state.generation + 1, targets: { ...state.targets, [stack]: [...new Set(targets)] } };
      return {
        state: next,
        event: { type: 'targets', time: new Date().toISOString(), service, stack, targets: next.targets[stack] ?? [], generation: next.generation },
      };
    });
  }

  /** Replaces the service's overrides at run time (they win over the config's from now on). */
  setOverrides(service: string, overrides: readonly Override[], options: MutationOptions = {}): Promise<ServiceRoute> {
    return this.mutate(service, options, (route) => {
      overrides.forEach((override, i) => {
        if (!STACK_ROLES.includes(override.to) && !route.stacks.has(override.to)) {
          throw new SwitchyardError('INVALID_OVERRIDE', `overrides[${i}].to: service "${service}" has no stack "${override.to}"`);
        }
      });
      const state: ServiceState = { ...route.state, generation: route.state.generation + 1, overrides: [...overrides] };
      return {
        state,
        event: { type: 'overrides', time: new Date().toISOString(), service, overrides: state.overrides ?? [], generation: state.generation },
      };
    });
  }

  /**
   * Records a rollout's state in one durable step. With `weights` it is also an ordinary
   * weight change (generation, history entry, event, `on_switch`); without, only the
   * record changes (no generation, no history). `change` runs inside the serialized
   * mutation with the current route (again, after a lost fleet race) and throws to write nothing.
   */
  recordRollout(service: string, change: (route: ServiceRoute) => RolloutWrite): Promise<ServiceRoute> {
    return this.mutate(service, {}, (route) => {
      const write = change(route);
      const weights = write.weights === undefined ? undefined : Object.fromEntries(route.pools.map((p) => [p.name, write.weights?.[p.name] ?? 0]));
      if (weights === undefined || route.pools.every((p) => weights[p.name] === route.state.weights[p.name])) {
        return { state: { ...route.state, rollout: write.rollout } };
      }
      const weighted = this.weightChange(route, weights, 'weights', { reason: write.reason, actor: 'rollout', force: write.force });
      return { ...weighted, state: { ...weighted.state, rollout: write.rollout } };
    });
  }

  /**
   * Applies a new config (SIGHUP), all or nothing: the new routing is built off to the
   * side, `step.prepare` runs (a throw there cancels the reload and leaves everything as
   * it was), then the routing goes live in one swap and `step.commit` runs. Runtime state
   * carries over where it still fits.
   */
  reload(config: Config, step?: ReloadStep): Promise<RoutingSnapshot> {
    return this.queue.run(async () => {
      const states = new Map<string, ServiceState>();
      const versions = new Map<string, number>();
      for (const service of config.services) {
        // A service new to this config may already have a state in a shared store.
        const known = this.states.has(service.name) ? undefined : this.store.known(service.name);
        const state = this.states.get(service.name) ?? known?.state;
        if (state) states.set(service.name, reconcile(service, state, this.log));
        const version = known?.version ?? this.versions.get(service.name);
        if (version !== undefined) versions.set(service.name, version);
      }
      const built = this.build(config, states);
      await step?.prepare();
      this.config = config;
      this.states = states;
      this.versions = versions;
      this.install(built);
      step?.commit();
      await this.applier?.(this.current);
      this.events.publish({ type: 'reload', time: new Date().toISOString(), generation: this.current.generation });
      return this.current;
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
   * The one place remote state goes live. `newer` (the watch): a change applies when its
   * version is above this instance's; `current` (what a lost commit was told) and `all`
   * (the store's whole state, every configured service): whenever the version differs, the
   * store wins. Undefined means the store holds nothing for the service, so the config
   * applies again. Services this config does not declare are left to the instances that
   * serve them. One rebuild for all, then the events of each changed service, with the
   * writer as `origin`.
   */
  private async applyStored(changes: ReadonlyMap<string, VersionedState | undefined>, mode: 'newer' | 'current' | 'all'): Promise<void> {
    const states = new Map(this.states);
    const versions = new Map(this.versions);
    const changed: { name: string; stored: VersionedState | undefined }[] = [];
    const names = mode === 'all' ? this.config.services.map((s) => s.name) : [...changes.keys()];
    for (const name of names) {
      const service = this.config.services.find((s) => s.name === name);
      if (!service) continue;
      const stored = changes.get(name);
      const local = versions.get(name) ?? 0;
      if (stored) {
        if (mode === 'newer' ? stored.version <= local : stored.version === local) continue;
        versions.set(name, stored.version);
        const state = reconcile(service, stored.state, this.log);
        // Already served as it is (a cache that matched etcd): only the version is news.
        if (isDeepStrictEqual(state, states.get(name))) continue;
        states.set(name, state);
      } else {
        versions.delete(name);
        if (!states.has(name)) continue;
        states.delete(name);
      }
      changed.push({ name, stored });
    }
    this.versions = versions;
    if (changed.length === 0) return;
    const before = this.current;
    this.states = states;
    this.install(this.build(this.config, states));
    await this.applier?.(this.current);
    for (const { name, stored } of changed) {
      for (const event of remoteEvents(before.services.get(name), this.service(name), stored)) this.events.publish(event);
    }
  }

  /** A switch, weights or rollback call: refused while a rollout is in progress, unless forced (which aborts the rollout). */
  private manualChange(route: ServiceRoute, to: Weights, reason: 'switch' | 'weights' | 'rollback', options: MutationOptions): Change {
    const rollout = route.state.rollout;
    if (!rolloutInProgress(rollout)) return this.weightChange(route, to, reason, options);
    if (!options.force) {
      throw new SwitchyardError('ROLLOUT_IN_PROGRESS', `service "${route.name}" has a rollout to "${rollout.to}" in progress (abort it, or use force)`);
    }
    const change = this.weightChange(route, to, reason, options);
    return { ...change, state: { ...change.state, rollout: abortedRollout(rollout, `aborted: ${reason} with force`, change.event.time) } };
  }

  private weightChange(
    route: ServiceRoute,
    to: Weights,
    reason: 'switch' | 'weights' | 'rollback',
    options: MutationOptions,
  ): { state: ServiceState; event: MutationEvent } {
    const state = route.state;
    if (!options.force) {
      for (const pool of route.pools) {
        const gains = (to[pool.name] ?? 0) > 0;
        if (gains && !pool.hasAvailable()) {
          throw new SwitchyardError('STACK_UNHEALTHY', `stack "${pool.name}" of service "${route.name}" has no healthy target (use force to override)`);
        }
      }
    }
    const generation = state.generation + 1;
    const entry: HistoryEntry = {
      time: new Date().toISOString(),
      from: state.weights,
      to,
      reason: options.reason ?? reason,
      actor: options.actor ?? 'admin',
      generation,
    };
    const history = [...state.history, entry].slice(-HISTORY_LIMIT);
    const next: ServiceState = { ...state, generation, weights: to, history };
    // `active` is filled in from the rebuilt route, which settles ties.
    return {
      state: next,
      event: { type: reason, time: entry.time, service: route.name, from: state.weights, to, active: '', generation, reason: entry.reason },
    };
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
      this.install(this.build(this.config, this.states));
      await this.applier?.(this.current);
      const updated = this.service(service);
      if (event !== undefined) this.events.publish('active' in event ? { ...event, active: updated.active.name } : event);
      this.store.applied(version);
      return { route: updated, version };
    }
  }

  /** Builds the routing for `config` and `states` without making it live or touching the registry. */
  private build(config: Config, states: ReadonlyMap<string, ServiceState>): Built {
    const draft = this.registry.draft();
    return { snapshot: buildSnapshot(config, states, draft, this.current.generation + 1, this.current, this.meters), draft };
  }

  /** Makes a built snapshot live: one swap, then the registry adopts its targets (the health checker follows). */
  private install(built: Built): void {
    this.current = built.snapshot;
    this.registry.commit(built.draft);
  }
}

/** Fits stored state to the service as configured now: unknown stacks dropped, missing ones at 0. */
function reconcile(service: ServiceConfig, stored: ServiceState, log: Logger): ServiceState {
  const names = Object.keys(service.stacks);
  const weights = Object.fromEntries(names.map((n) => [n, stored.weights[n] ?? 0]));
  const targets = Object.fromEntries(Object.entries(stored.targets).filter(([stack]) => names.includes(stack)));
  const delivery = fitDelivery(service, stored, log);
  if (Object.values(weights).every((w) => w === 0)) {
    log.warn({ service: service.name }, 'stored weights name no configured stack; using the config');
    return { ...initialState(service), generation: stored.generation, history: stored.history, targets, ...delivery };
  }
  const { overrides: _overrides, rollout: _rollout, ...rest } = stored;
  return { ...rest, weights, targets, ...delivery };
}
