import type { Override, RolloutStep } from '../config/delivery-schema.js';

/** Integer weight per stack name. */
export type Weights = Readonly<Record<string, number>>;

/** One recorded change of a service's weights. */
export interface HistoryEntry {
  /** ISO time the change was acknowledged. */
  readonly time: string;
  readonly from: Weights;
  readonly to: Weights;
  /** switch | weights | rollback, or the caller's reason. */
  readonly reason: string;
  /** Who asked: "admin" or the caller's actor. */
  readonly actor: string;
  readonly generation: number;
}

/** Where a rollout is: moving, held (by an operator or a `pause: {}` step), or finished. */
export type RolloutPhase = 'running' | 'paused' | 'completed' | 'aborted';

/** A gate a rollout waits for (SPEC §10). */
export type GateName = 'pre_rollout' | 'pre_promotion';

/**
 * The durable state of a service's rollout (SPEC §10): stored with the service, so a
 * restart (or kill -9) resumes at the same step with what was left of its pause.
 */
export interface RolloutRecord {
  /** Bumped by every change: a writer that read an older revision lost a race and reads again. */
  readonly revision: number;
  /** The stable stack (active when the rollout started). */
  readonly from: string;
  /** The stack rolled out to. */
  readonly to: string;
  readonly steps: readonly RolloutStep[];
  /** Index of the current step (the last one once finished). */
  readonly step: number;
  readonly state: RolloutPhase;
  /** Why it is paused: an operator's pause, or a `pause: {}` step waiting for promote. */
  readonly held_by: 'operator' | 'step' | null;
  /** End of the current timed pause (ISO), while it runs. */
  readonly pause_until: string | null;
  /** What was left of a timed pause when an operator paused it, in ms. */
  readonly pause_left_ms: number | null;
  /** Gates already passed. */
  readonly gates_passed: readonly GateName[];
  /** Passed and failed measurements of the current step (analysis or gate). */
  readonly passes: number;
  readonly failures: number;
  /** Figures of the last measurement (provider, verdict, rate, p99, value, gate status…). */
  readonly analysis: Readonly<Record<string, unknown>> | null;
  /** Why it is where it is: `waiting for promote`, `aborted: error rate 0.093 > 0.01 …`. */
  readonly reason: string | null;
  readonly started_at: string;
  readonly updated_at: string;
}

/** What run time changed of one service; config is the base, this overrides it. */
export interface ServiceState {
  readonly generation: number;
  readonly weights: Weights;
  /** Targets replaced at run time, per stack. */
  readonly targets: Readonly<Record<string, readonly string[]>>;
  readonly history: readonly HistoryEntry[];
  /** Overrides replaced at run time (`PUT .../overrides`); the config's apply while unset. */
  readonly overrides?: readonly Override[];
  /** The service's latest rollout, running or finished. */
  readonly rollout?: RolloutRecord;
}

/** True while a rollout still moves or holds traffic (a manual weight change must not race it). */
export function rolloutInProgress(rollout: RolloutRecord | undefined): rollout is RolloutRecord {
  return rollout !== undefined && (rollout.state === 'running' || rollout.state === 'paused');
}

/** `rollout` stopped for `reason` at `time`: nothing pending any more (its weights are the caller's business). */
export function abortedRollout(rollout: RolloutRecord, reason: string, time: string): RolloutRecord {
  return { ...rollout, revision: rollout.revision + 1, state: 'aborted', held_by: null, pause_until: null, pause_left_ms: null, reason, updated_at: time };
}
