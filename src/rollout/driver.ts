import type { Logger } from 'pino';
import type { RolloutStep } from '../config/delivery-schema.js';
import type { GatesConfig } from '../config/schema.js';
import { messageOf, SwitchyardError } from '../errors.js';
import type { RolloutAction } from '../events/bus.js';
import type { ServiceRoute } from '../routing/service-route.js';
import type { GateName, RolloutRecord } from '../routing/service-state.js';
import type { RolloutWrite, StateController } from '../state/controller.js';
import { type Baseline, baseline, type CountsSource, judgeInterval } from './analysis-builtin.js';
import { measurePrometheus } from './analysis-prometheus.js';
import { askGate } from './gates.js';
import type { Measurement } from './measurement.js';
import { nextStep, presentRollout, revise, rolloutEvent, splitWeights } from './record.js';
import { pauseOf, stepReason } from './steps.js';
import { applyMeasurement, figures, type Outcome } from './verdict.js';

/** What a driver reads and calls. */
export interface DriverDeps {
  readonly controller: StateController;
  /** Response counts for builtin analysis; undefined when metrics are disabled (switchyard keeps none then). */
  readonly counts: CountsSource | undefined;
  readonly log: Logger;
}

/** Thrown inside a write whose record changed since it was read (an operator acted): nothing is written, the driver reads again. */
class StaleRollout extends Error {}

/** Longest timer Node keeps (about 24.8 days); a longer pause is waited for in parts. */
const MAX_TIMER = 2 ** 31 - 1;

/** A wait within the current step: an analysis interval, or the time until a gate or a refused weight step is tried again. */
interface Window {
  readonly step: number;
  readonly kind: 'analysis' | 'retry';
  readonly startedAt: number;
  /** Counts of the new stack when an analysis interval began (builtin provider). */
  readonly base: Baseline | undefined;
}

/** The gate the rollout must pass before running `step` now, if any (pre_rollout before the first step, pre_promotion before the step to 100). */
export function pendingGate(record: RolloutRecord, step: RolloutStep, gates: GatesConfig): GateName | undefined {
  if (gates.pre_rollout !== undefined && record.step === 0 && !record.gates_passed.includes('pre_rollout')) return 'pre_rollout';
  if (gates.pre_promotion !== undefined && 'weight' in step && step.weight === 100 && !record.gates_passed.includes('pre_promotion')) return 'pre_promotion';
  return undefined;
}

/**
 * Moves one service's rollout along its steps, from the stored record each time: weight
 * steps as ordinary weight changes, pauses by timer (their end is stored, so a restart
 * keeps it), analysis by measuring each interval, gates by asking each interval. Every
 * write is conditional on the record it read, so an operator's promote/pause/abort in
 * between wins and the driver simply reads again. Never throws: an error is logged and
 * retried after an interval.
 */
export class RolloutDriver {
  readonly service: string;
  private readonly deps: DriverDeps;
  private timer: NodeJS.Timeout | undefined;
  /** Aborted by interrupt(): calls in flight (Prometheus, gates) end and their answers are dropped. */
  private calls = new AbortController();
  private window: Window | undefined;
  private busy = false;
  private again = false;
  private halted = false;

  constructor(service: string, deps: DriverDeps) {
    this.service = service;
    this.deps = deps;
  }

  /** Looks at the stored record and does what it asks for next. */
  kick(): void {
    if (this.halted) return;
    this.clearTimer();
    if (this.busy) {
      this.again = true;
      return;
    }
    void this.loop();
  }

  /** Drops any wait and call in flight (an operator changed the rollout); kick() goes on from the stored record. */
  interrupt(): void {
    this.clearTimer();
    this.calls.abort();
    this.calls = new AbortController();
    this.window = undefined;
  }

  /** True once stopped for good. */
  get stopped(): boolean {
    return this.halted;
  }

  /** Stops for good (shutdown, or the service is gone). */
  stop(): void {
    this.halted = true;
    this.interrupt();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private wait(ms: number): void {
    this.clearTimer();
    if (this.halted) return;
    this.timer = setTimeout(() => this.kick(), Math.max(0, Math.min(ms, MAX_TIMER)));
  }

  private async loop(): Promise<void> {
    this.busy = true;
    try {
      do {
        this.again = false;
        try {
          await this.pass();
        } catch (err) {
          if (err instanceof StaleRollout) {
            this.window = undefined;
            this.again = true;
            continue;
          }
          const interval = this.route()?.config.analysis.interval ?? 30_000;
          this.deps.log.error({ service: this.service, err: messageOf(err) }, 'rollout step failed; trying again after an interval');
          this.wait(interval);
        }
      } while (this.again && !this.halted);
    } finally {
      this.busy = false;
    }
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
    const step = record?.steps[record.step];
    if (record === undefined || record.state !== 'running' || step === undefined) {
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
  private async write(
    expected: RolloutRecord,
    actions: readonly RolloutAction[],
    build: (current: RolloutRecord, time: string) => RolloutWrite,
  ): Promise<RolloutRecord> {
    const route = await this.deps.controller.recordRollout(this.service, (now) => {
      const current = now.state.rollout;
      if (current === undefined || current.revision !== expected.revision) throw new StaleRollout();
      return build(current, new Date().toISOString());
    });
    this.announce(route, actions);
    return route.state.rollout as RolloutRecord;
  }

  private announce(route: ServiceRoute, actions: readonly RolloutAction[]): void {
    const written = route.state.rollout;
    if (written !== undefined) for (const action of actions) this.deps.controller.events.publish(rolloutEvent(action, route, written));
  }

  /** True when the retry wait of this step is over (none yet counts as over); otherwise arranges the kick. */
  private due(record: RolloutRecord, interval: number): boolean {
    const w = this.window;
    if (w === undefined || w.step !== record.step || w.kind !== 'retry') return true;
    const left = w.startedAt + interval - Date.now();
    if (left <= 0) return true;
    this.wait(left);
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
      this.again = true;
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
      this.again = true;
      return;
    }
    const left = Date.parse(record.pause_until) - Date.now();
    if (left > 0) {
      this.wait(left);
      return;
    }
    const last = record.step + 1 >= record.steps.length;
    await this.write(record, last ? ['step', 'completed'] : ['step'], (current, time) => ({ rollout: nextStep(current, time) }));
    this.again = true;
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
    this.again = true;
  }

  private async analyse(route: ServiceRoute, record: RolloutRecord): Promise<void> {
    const interval = route.config.analysis.interval;
    const w = this.window;
    if (w === undefined || w.step !== record.step || w.kind !== 'analysis') {
      await this.open(route, record);
      this.wait(interval);
      return;
    }
    const left = w.startedAt + interval - Date.now();
    if (left > 0) {
      this.wait(left);
      return;
    }
    const signal = this.calls.signal;
    const m = await this.measure(route, record, w, signal);
    if (signal.aborted) return;
    // The next interval starts now, so no answer goes uncounted between two.
    await this.open(route, record);
    await this.measured(route, record, m);
  }

  /** Starts an analysis interval of the current step now. */
  private async open(route: ServiceRoute, record: RolloutRecord): Promise<void> {
    const startedAt = Date.now();
    const counts = route.config.analysis.provider === 'builtin' ? await this.deps.counts?.(route.name, record.to) : undefined;
    this.window = { step: record.step, kind: 'analysis', startedAt, base: counts === undefined ? undefined : baseline(counts) };
  }

  private async measure(route: ServiceRoute, record: RolloutRecord, w: Window, signal: AbortSignal): Promise<Measurement> {
    const analysis = route.config.analysis;
    if (analysis.provider === 'prometheus') return measurePrometheus(analysis, { service: route.name, stack: record.to, from: record.from }, signal);
    const counts = await this.deps.counts?.(route.name, record.to);
    if (counts === undefined) {
      return { verdict: 'fail', summary: 'builtin analysis reads switchyard’s own metrics, and metrics.enabled is false', figures: { provider: 'builtin' } };
    }
    // The interval began under another provider (a reload changed it): judge the next one.
    if (w.base === undefined) return { verdict: 'inconclusive', summary: 'the provider changed during the interval', figures: { provider: 'builtin' } };
    return judgeInterval(w.base, counts, analysis);
  }

  /** Records a measurement (see applyMeasurement); while the step goes on, the next try or interval is due after one interval. */
  private async measured(route: ServiceRoute, record: RolloutRecord, m: Measurement): Promise<void> {
    const analysis = route.config.analysis;
    const analysing = this.window?.kind === 'analysis' && this.window.step === record.step;
    let outcome: Outcome = 'counted';
    let actions: RolloutAction[] = [];
    const written = await this.deps.controller.recordRollout(this.service, (now) => {
      const current = now.state.rollout;
      if (current === undefined || current.revision !== record.revision) throw new StaleRollout();
      const result = applyMeasurement(current, m, analysis, analysing, new Date().toISOString());
      outcome = result.outcome;
      actions = result.actions;
      return result.write;
    });
    this.announce(written, actions);
    if (outcome !== 'counted') {
      this.window = undefined;
      if (outcome === 'advanced') this.again = true;
      return;
    }
    if (!analysing) this.window = { step: record.step, kind: 'retry', startedAt: Date.now(), base: undefined };
    this.wait(analysing ? Math.max(0, (this.window?.startedAt ?? Date.now()) + analysis.interval - Date.now()) : analysis.interval);
  }
}
