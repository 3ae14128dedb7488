import type { RolloutStep } from '../config/delivery-schema.js';
import { SwitchyardError } from '../errors.js';
import type { RolloutAction, SwitchyardEvent } from '../events/bus.js';
import type { ServiceRoute } from '../routing/service-route.js';
import { type RolloutRecord, rolloutInProgress } from '../routing/service-state.js';
import type { RolloutWrite } from '../state/controller.js';
import { type DriverDeps, RolloutDriver } from './driver.js';
import { pendingGate } from './gates.js';
import { newRollout, nextStep, presentRollout, revise, rolloutEvent, splitWeights } from './record.js';
import { checkSteps, completeSteps, DEFAULT_STEPS, pauseOf } from './steps.js';

/** The JSON of a rollout, as `GET .../rollout` answers it. */
export type RolloutView = ReturnType<typeof presentRollout>;

/** What `POST /v1/services/:service/rollouts` asks for. */
export interface RolloutRequest {
  /** The stack to roll out to. */
  readonly to: string;
  /** Steps; default: the service's `rollout.steps`, else DEFAULT_STEPS. */
  readonly steps?: unknown;
}

/**
 * The rollouts of every service (SPEC §10): starts them, runs one driver per service,
 * and carries out the operator's promote/pause/resume/abort. A stored rollout that was
 * running when the process stopped is picked up again by `start()`.
 */
export class RolloutRunner {
  private readonly deps: DriverDeps;
  private readonly drivers = new Map<string, RolloutDriver>();
  private readonly unsubscribe: () => void;
  private readonly unfollow: () => void;
  private started = false;
  private stopped = false;

  constructor(deps: DriverDeps) {
    this.deps = deps;
    this.unsubscribe = deps.controller.events.subscribe(this.onEvent);
    // In a fleet, records written elsewhere: the holder goes on from them, the others try for the lock.
    this.unfollow = deps.locks === undefined ? () => {} : deps.controller.onRemoteChange(this.onRemote);
  }

  /** Picks up every stored rollout that was running (after a restart, or kill -9; in a fleet, by whichever instance gets its lock). */
  start(): void {
    this.started = true;
    for (const route of this.deps.controller.snapshot.services.values()) {
      if (route.state.rollout?.state === 'running') this.driver(route.name).kick();
    }
  }

  /** Stops every driver (shutdown); the stored records stay as they are for the next start. */
  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    this.unfollow();
    for (const driver of this.drivers.values()) driver.stop();
    this.drivers.clear();
  }

  /** The service's latest rollout (404 NO_ROLLOUT when it never had one). */
  get(service: string): RolloutView {
    const route = this.deps.controller.service(service);
    const record = route.state.rollout;
    if (record === undefined) throw new SwitchyardError('NO_ROLLOUT', `service "${service}" has no rollout`);
    return presentRollout(route, record);
  }

  /** Starts a rollout to `request.to` from the active stack; 409 ROLLOUT_IN_PROGRESS while another one runs. */
  async begin(service: string, request: RolloutRequest): Promise<RolloutView> {
    const route = this.deps.controller.service(service);
    const steps = request.steps === undefined ? completeSteps(route.config.rollout?.steps ?? DEFAULT_STEPS) : checkSteps(request.steps);
    const driver = this.driver(service);
    // In a fleet the lock comes first, so the instance that starts a rollout drives it.
    await driver.lock.takeFirst();
    try {
      const updated = await this.deps.controller.recordRollout(service, (now) => {
        const current = now.state.rollout;
        if (rolloutInProgress(current))
          throw new SwitchyardError('ROLLOUT_IN_PROGRESS', `service "${service}" already has a rollout to "${current.to}" in progress`);
        this.check(now, request.to, steps);
        return { rollout: newRollout(now.active.name, request.to, steps, new Date().toISOString()) };
      });
      this.publish('started', updated);
    } catch (err) {
      // The pass gives back a lock taken for nothing.
      if (this.deps.locks !== undefined) driver.kick();
      throw err;
    }
    driver.kick();
    return this.get(service);
  }

  /** Skips what the rollout waits for now (a pause, an analysis, a gate); with `full`, the new stack gets 100 % at once and the rollout completes. */
  promote(service: string, full: boolean): Promise<RolloutView> {
    return this.act(service, (current, time) => {
      if (full) {
        const reason = 'rollout promoted in full: weight 100';
        const rollout = revise(
          current,
          { state: 'completed', held_by: null, pause_until: null, pause_left_ms: null, step: current.steps.length - 1, reason: 'promoted in full' },
          time,
        );
        return { write: { rollout, weights: splitWeights(current, 100), reason }, actions: ['promoted', 'completed'] };
      }
      const step = current.steps[current.step];
      const gates = this.deps.controller.service(service).config.gates;
      const gate = step === undefined ? undefined : pendingGate(current, step, gates);
      if (gate !== undefined) {
        const rollout = revise(
          current,
          { state: 'running', held_by: null, gates_passed: [...current.gates_passed, gate], failures: 0, reason: `gate ${gate} skipped by promote` },
          time,
        );
        return { write: { rollout }, actions: ['promoted'] };
      }
      if (step !== undefined && 'weight' in step) {
        // A weight step waits only for health: promote just lets it try again now.
        return { write: { rollout: revise(current, { state: 'running', held_by: null, reason: null }, time) }, actions: ['promoted'] };
      }
      const rollout = nextStep(current, time);
      return { write: { rollout }, actions: rollout.state === 'completed' ? ['promoted', 'completed'] : ['promoted'] };
    });
  }

  /** Holds the rollout where it is: no step, no measurement; a running pause keeps what is left of it. */
  pause(service: string): Promise<RolloutView> {
    return this.act(service, (current, time) => {
      if (current.state === 'paused') return undefined;
      const left = current.pause_until === null ? null : Math.max(0, Date.parse(current.pause_until) - Date.parse(time));
      const rollout = revise(
        current,
        { state: 'paused', held_by: 'operator', pause_until: null, pause_left_ms: left ?? current.pause_left_ms, reason: 'paused by admin' },
        time,
      );
      return { write: { rollout }, actions: ['paused'] };
    });
  }

  /** Goes on after `pause` (with what was left of a running pause); at a `pause: {}` step, goes on to the next step. */
  resume(service: string): Promise<RolloutView> {
    return this.act(service, (current, time) => {
      if (current.state !== 'paused') return undefined;
      const step = current.steps[current.step];
      if (current.held_by === 'step' || (step !== undefined && pauseOf(step) === null)) {
        const rollout = nextStep(current, time);
        return { write: { rollout }, actions: rollout.state === 'completed' ? ['resumed', 'completed'] : ['resumed'] };
      }
      const until = current.pause_left_ms === null ? null : new Date(Date.parse(time) + current.pause_left_ms).toISOString();
      const rollout = revise(current, { state: 'running', held_by: null, pause_until: until, pause_left_ms: null, reason: null }, time);
      return { write: { rollout }, actions: ['resumed'] };
    });
  }

  /** Stops the rollout and sends all traffic back to the stable stack at once. */
  abort(service: string, why: string | undefined): Promise<RolloutView> {
    return this.act(service, (current, time) => {
      const reason = `aborted: ${why ?? 'by admin'}`;
      const rollout = revise(current, { state: 'aborted', held_by: null, pause_until: null, pause_left_ms: null, reason }, time);
      return { write: { rollout, weights: splitWeights(current, 0), reason, force: true }, actions: ['aborted'] };
    });
  }

  /** Refuses a rollout that cannot start: unknown or already active stack, no healthy target, builtin analysis without metrics. */
  private check(route: ServiceRoute, to: string, steps: readonly RolloutStep[]): void {
    const pool = route.stacks.get(to);
    if (pool === undefined) throw new SwitchyardError('UNKNOWN_STACK', `service "${route.name}" has no stack "${to}"`);
    if (pool === route.active) throw new SwitchyardError('INVALID_ROLLOUT', `stack "${to}" is already the active stack of service "${route.name}"`);
    if (!pool.hasAvailable()) throw new SwitchyardError('STACK_UNHEALTHY', `stack "${to}" of service "${route.name}" has no healthy target`);
    const analyses = steps.some((s) => 'analysis' in s);
    if (analyses && route.config.analysis.provider === 'builtin' && this.deps.counts === undefined) {
      throw new SwitchyardError('INVALID_ROLLOUT', 'builtin analysis reads switchyard’s own metrics, and metrics.enabled is false');
    }
  }

  /**
   * An operator's action on a rollout in progress: the driver drops what it was waiting
   * for, the change is written (undefined = nothing to change), and the driver goes on
   * from the new record.
   */
  private async act(
    service: string,
    change: (current: RolloutRecord, time: string) => { write: RolloutWrite; actions: RolloutAction[] } | undefined,
  ): Promise<RolloutView> {
    this.deps.controller.service(service); // 404 before anything else
    const driver = this.driver(service);
    driver.interrupt();
    let actions: RolloutAction[] = [];
    try {
      const updated = await this.deps.controller.recordRollout(service, (route) => {
        const current = route.state.rollout;
        if (current === undefined) throw new SwitchyardError('NO_ROLLOUT', `service "${service}" has no rollout`);
        if (current.state === 'completed' || current.state === 'aborted')
          throw new SwitchyardError('ROLLOUT_NOT_ACTIVE', `the rollout of service "${service}" is ${current.state}`);
        const result = change(current, new Date().toISOString());
        actions = result?.actions ?? [];
        return result?.write ?? { rollout: current };
      });
      for (const action of actions) this.publish(action, updated);
    } finally {
      driver.kick();
    }
    return this.get(service);
  }

  private publish(action: RolloutAction, route: ServiceRoute): void {
    const record = route.state.rollout;
    if (record !== undefined) this.deps.controller.events.publish(rolloutEvent(action, route, record));
  }

  private driver(service: string): RolloutDriver {
    let driver = this.drivers.get(service);
    // A driver stops when its service left the config; one that came back gets a new one.
    if (driver === undefined || driver.stopped) {
      driver = new RolloutDriver(service, this.deps);
      if (this.stopped) driver.stop();
      else this.drivers.set(service, driver);
    }
    return driver;
  }

  /** A service changed on another instance: its driver looks at the record (takes over, goes on, or lets go). */
  private readonly onRemote = (service: string): void => {
    if (!this.started || this.stopped) return;
    if (rolloutInProgress(this.deps.controller.snapshot.services.get(service)?.state.rollout) || this.drivers.has(service)) this.driver(service).kick();
  };

  /**
   * A forced switch, weights change or rollback aborts a rollout inside the controller
   * (SPEC §10): its driver stops waiting and the stream hears of it. A reload may drop
   * a service or a rollout whose stacks are gone: their drivers stop.
   */
  private readonly onEvent = (event: SwitchyardEvent): void => {
    if (event.type === 'reload') {
      for (const [name, driver] of this.drivers) {
        const route = this.deps.controller.snapshot.services.get(name);
        if (route === undefined || !rolloutInProgress(route.state.rollout)) driver.interrupt();
      }
      return;
    }
    if (event.type !== 'switch' && event.type !== 'weights' && event.type !== 'rollback') return;
    const route = this.deps.controller.snapshot.services.get(event.service);
    const record = route?.state.rollout;
    const entry = route?.state.history.at(-1);
    // Only the manual change that aborted it, not the rollout's own steps (actor "rollout").
    if (route === undefined || record?.state !== 'aborted' || record.updated_at !== event.time || entry?.actor === 'rollout') return;
    this.drivers.get(event.service)?.interrupt();
    this.publish('aborted', route);
  };
}
