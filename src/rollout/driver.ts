import type { Logger } from 'pino';
import { messageOf, SwitchyardError } from '../errors.js';
import type { RolloutAction } from '../events/bus.js';
import type { ServiceRoute } from '../routing/service-route.js';
import { type GateName, type RolloutRecord, rolloutInProgress } from '../routing/service-state.js';
import type { RolloutWrite, StateController } from '../state/controller.js';
import { intervalBase, measureInterval } from './analysis.js';
import type { Baseline, CountsSource } from './analysis-builtin.js';
import { StaleRollout, writeIfCurrent } from './conditional-write.js';
import { DriveLock, type RolloutLocks } from './drive-lock.js';
import { askGate, pendingGate } from './gates.js';
import type { Measurement } from './measurement.js';
import { PassLoop } from './pass-loop.js';
import { nextStep, presentRollout, revise, splitWeights } from './record.js';
import { pauseOf, stepReason } from './steps.js';
import { applyMeasurement, figures, type Outcome } from './verdict.js';

/** What a driver reads and calls. */
export interface DriverDeps {
  readonly controller: StateController;
  /** Response counts for builtin analysis; undefined when metrics are disabled (switchyard keeps none then). */
  readonly counts: CountsSource | undefined;
  readonly log: Logger;
  /** In a fleet, the lock whose holder alone drives a service's rollout; undefined: this instance drives every one. */
  readonly locks?: RolloutLocks | undefined;
}

/** A wait within the current step: an analysis interval, or the time until a gate or a refused weight step is tried again. */
interface Window {
  readonly step: number;
  readonly kind: 'analysis' | 'retry';
  readonly startedAt: number;
  /** Counts of the new stack when an analysis interval began (builtin provider). */
  readonly base: Baseline | undefined;
}

/**
 * Moves one service's rollout along its steps, from the stored record each time: weight
 * steps as ordinary weight changes, pauses by timer (their end is stored, so a restart
 * keeps it), analysis by measuring each interval, gates by asking each interval. Every
 * write is conditional on the record it read, so an operator's promote/pause/abort in
 * between wins and the driver simply reads again. Never throws: an error is logged and
 * retried after an interval. When it looks (one pass at a time, kicked or after a wait) is
 * pass-loop.ts; what an analysis interval measures, analysis.ts; the conditional write,
 * conditional-write.ts. In a fleet only the holder of the service's lock drives (drive-lock.ts).
 */
export class RolloutDriver {
  readonly service: string;
  private readonly deps: DriverDeps;
  private readonly loop = new PassLoop(
    () => this.pass(),
    (err) => this.failed(err),
  );
  /** Aborted by interrupt(): calls in flight (Prometheus, gates) end and their answers are dropped. */
  private calls = new AbortController();
  private window: Window | undefined;
  /** Whether this instance may drive (in a fleet: while it holds the service's lock). */
  readonly lock: DriveLock;

  constructor(service: string, deps: DriverDeps) {
    this.service = service;
    this.deps = deps;
    this.lock = new DriveLock(service, deps.locks, deps.log, { kick: () => this.kick(), lost: () => this.interrupt() });
  }

  /** Looks at the stored record and does what it asks for next. */
  kick(): void {
    this.loop.kick();
  }

  /** Drops any wait and call in flight (an operator changed the rollout); kick() goes on from the stored record. */
  interrupt(): void {
    this.loop.cancel();
    this.calls.abort();
    this.calls = new AbortController();
    this.window = undefined;
  }

  /** True once stopped for good. */
  get stopped(): boolean {
    return this.loop.stopped;
  }

  /** Stops for good (shutdown, or the service is gone). */
  stop(): void {
    this.loop.halt();
    this.interrupt();
    this.lock.stop();
  }

  /** A pass threw: a stale record is read again at once; anything else is logged and tried again after an interval. */
  private failed(err: unknown): void {
    if (err instanceof StaleRollout) {
      this.window = undefined;
      this.loop.again();
      return;
    }
    const interval = this.route()?.config.analysis.interval ?? 30_000;
    this.deps.log.error({ service: this.service, err: messageOf(err) }, 'rollout step failed; trying again after an interval');
    this.loop.wait(interval);
  }

  private route(): ServiceRoute | undefined {
    return this.deps.controller.snapshot.services.get(this.service);
  }

  /** One look at the record: does the next thing, or arranges to be kicked when it is due. */
  private async pass(): Promise<void> {
    const route = this.route();
    if (route === undefined) {
      this.stop();
      return;
    }
    const record = route.state.rollout;
    if (!rolloutInProgress(record)) this.lock.release();
    const step = record?.steps[record.step];
    if (record === undefined || record.state !== 'running' || step === undefined || !this.lock.claim()) {
      this.window = undefined;
      return;
    }
    const gate = pendingGate(record, step, route.config.gates);
    if (gate !== undefined) return this.gate(route, record, gate);
    if ('weight' in step) return this.weigh(route, record, step.weight);
    const pause = pauseOf(step);
    if (pause !== undefined) return this.pause(record, pause);
    return this.analyse(route, record);
  }

  /** Writes `build`'s result if the record is still `expected`; publishes `actions` for the written record. */
  private write(expected: RolloutRecord, actions: readonly RolloutAction[], build: (current: RolloutRecord, time: string) => RolloutWrite): Promise<void> {
    return writeIfCurrent(this.deps.controller, this.service, expected, (current, time) => ({ write: build(current, time), actions }));
  }

  /** True when the retry wait of this step is over (none yet counts as over); otherwise arranges the kick. */
  private due(record: RolloutRecord, interval: number): boolean {
    const w = this.window;
    if (w === undefined || w.step !== record.step || w.kind !== 'retry') return true;
    const left = w.startedAt + interval - Date.now();
    if (left <= 0) return true;
    this.loop.wait(left);
    return false;
  }

  private async weigh(route: ServiceRoute, record: RolloutRecord, weight: number): Promise<void> {
    if (!this.due(record, route.config.analysis.interval)) return;
    const reason = stepReason(record.step, record.steps.length, weight);
    try {
      const last = record.step + 1 >= record.steps.length;
      await this.write(record, last ? ['step', 'completed'] : ['step'], (current, time) => ({
        rollout: nextStep(current, time),
        weights: splitWeights(current, weight),
        reason,
      }));
      this.window = undefined;
      this.loop.again();
    } catch (err) {
      if (!(err instanceof SwitchyardError) || err.code !== 'STACK_UNHEALTHY') throw err;
      // The new (or the stable) stack has no healthy target: a failed measurement, tried again next interval.
      await this.measured(route, record, { verdict: 'fail', summary: err.message.replace(/ \(use force to override\)$/, ''), figures: { check: 'health' } });
    }
  }

  private async pause(record: RolloutRecord, ms: number | null): Promise<void> {
    if (ms === null) {
      await this.write(record, ['paused'], (current, time) => ({
        rollout: revise(current, { state: 'paused', held_by: 'step', reason: 'waiting for promote' }, time),
      }));
      return;
    }
    if (record.pause_until === null) {
      // Normally set as the step began (nextStep); a record from before that (or a pause right after a gate) gets it now.
      const until = new Date(Date.now() + ms).toISOString();
      await this.write(record, [], (current, time) => ({ rollout: revise(current, { pause_until: until }, time) }));
      this.loop.again();
      return;
    }
    const left = Date.parse(record.pause_until) - Date.now();
    if (left > 0) {
      this.loop.wait(left);
      return;
    }
    const last = record.step + 1 >= record.steps.length;
    await this.write(record, last ? ['step', 'completed'] : ['step'], (current, time) => ({ rollout: nextStep(current, time) }));
    this.loop.again();
  }

  private async gate(route: ServiceRoute, record: RolloutRecord, gate: GateName): Promise<void> {
    const gates = route.config.gates;
    if (!this.due(record, route.config.analysis.interval)) return;
    const signal = this.calls.signal;
    const body = { ...presentRollout(route, record), gate };
    const m = await askGate(gate, gates[gate] as string, body, gates.timeout, signal);
    if (signal.aborted) return;
    if (m.verdict !== 'pass') {
      await this.measured(route, record, m);
      return;
    }
    await this.write(record, ['gate'], (current, time) => ({
      rollout: revise(
        current,
        {
          gates_passed: [...current.gates_passed, gate],
          passes: 0,
          failures: 0,
          analysis: figures(m, route.config.analysis, 0, current.failures, time),
          reason: null,
        },
        time,
      ),
    }));
    this.window = undefined;
    this.loop.again();
  }

  private async analyse(route: ServiceRoute, record: RolloutRecord): Promise<void> {
    const interval = route.config.analysis.interval;
    const w = this.window;
    if (w === undefined || w.step !== record.step || w.kind !== 'analysis') {
      await this.open(route, record);
      this.loop.wait(interval);
      return;
    }
    const left = w.startedAt + interval - Date.now();
    if (left > 0) {
      this.loop.wait(left);
      return;
    }
    const signal = this.calls.signal;
    const m = await measureInterval(route, record, w.base, this.deps.counts, signal);
    if (signal.aborted) return;
    // The next interval starts now, so no answer goes uncounted between two.
    await this.open(route, record);
    await this.measured(route, record, m);
  }

  /** Starts an analysis interval of the current step now. */
  private async open(route: ServiceRoute, record: RolloutRecord): Promise<void> {
    const startedAt = Date.now();
    const base = await intervalBase(route, record, this.deps.counts);
    this.window = { step: record.step, kind: 'analysis', startedAt, base };
  }

  /** Records a measurement (see applyMeasurement); while the step goes on, the next try or interval is due after one interval. */
  private async measured(route: ServiceRoute, record: RolloutRecord, m: Measurement): Promise<void> {
    const analysis = route.config.analysis;
    const analysing = this.window?.kind === 'analysis' && this.window.step === record.step;
    let outcome: Outcome = 'counted';
    await writeIfCurrent(this.deps.controller, this.service, record, (current, time) => {
      const result = applyMeasurement(current, m, analysis, analysing, time);
      outcome = result.outcome;
      return result;
    });
    if (outcome !== 'counted') {
      this.window = undefined;
      if (outcome === 'advanced') this.loop.again();
      return;
    }
    if (!analysing) this.window = { step: record.step, kind: 'retry', startedAt: Date.now(), base: undefined };
    this.loop.wait(analysing ? Math.max(0, (this.window?.startedAt ?? Date.now()) + analysis.interval - Date.now()) : analysis.interval);
  }
}
