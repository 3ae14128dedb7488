/** The JSON the admin API answers, as the page reads it (SPEC §5). */

/** A target as `GET /v1/services` shows it. */
export interface TargetView {
  readonly address: string;
  readonly healthy: boolean;
  readonly available: boolean;
  readonly ejected_until: string | null;
  readonly in_flight: number;
  readonly consecutive_successes: number;
  readonly consecutive_failures: number;
  readonly last_check: string | null;
  readonly last_error: string | null;
}

/** One stack of a service. */
export interface StackView {
  readonly weight: number;
  readonly active: boolean;
  readonly healthy_targets: number;
  readonly websockets: number;
  readonly targets: readonly TargetView[];
}

/** One rollout step as the API shows it. */
export type RolloutStepView =
  | { readonly weight: number }
  | { readonly pause: string | number | Readonly<Record<string, never>> }
  | { readonly analysis: string };

/** A service's latest rollout (SPEC §10), as `GET /v1/services/:service/rollout` shows it. */
export interface RolloutView {
  readonly from: string;
  readonly to: string;
  readonly state: 'running' | 'paused' | 'completed' | 'aborted';
  readonly step: number;
  readonly steps: readonly RolloutStepView[];
  readonly analysis: Readonly<Record<string, unknown>> | null;
  readonly reason: string | null;
  readonly held_by: 'operator' | 'step' | null;
  readonly pause: { readonly until: string | null; readonly remaining_ms: number } | null;
  readonly updated_at: string;
}

/** One service. */
export interface ServiceView {
  readonly name: string;
  readonly generation: number;
  readonly active: string;
  readonly standby: string;
  readonly weights: Readonly<Record<string, number>>;
  readonly hosts: readonly string[];
  readonly paths: readonly string[];
  readonly balance: string;
  readonly sticky: string;
  readonly stacks: Readonly<Record<string, StackView>>;
  /** The latest rollout, or null when the service never had one. */
  readonly rollout?: RolloutView | null;
}

/** `GET /v1/services`. */
export interface ServicesList {
  readonly generation: number;
  readonly certificates_expiring_soon: readonly string[];
  readonly services: readonly ServiceView[];
}

/** One recorded change of a service's weights. */
export interface HistoryEntry {
  readonly time: string;
  readonly from: Readonly<Record<string, number>>;
  readonly to: Readonly<Record<string, number>>;
  readonly reason: string;
  readonly actor: string;
  readonly generation: number;
}

/** An installed certificate (never its key). */
export interface Certificate {
  readonly name: string;
  readonly hosts: readonly string[];
  readonly not_before: string;
  readonly not_after: string;
  readonly fingerprint256: string;
  readonly expires_soon: boolean;
}

/** Figures of one stack over the server's sliding window. */
export interface StackFigures {
  readonly requests: number;
  readonly rps: number;
  readonly error_ratio: number | null;
  readonly p99_ms: number | null;
}

/** One sample of figures per service and stack. */
export interface FiguresPoint {
  readonly time: string;
  readonly services: Readonly<Record<string, Readonly<Record<string, StackFigures>>>>;
}

/** `GET /v1/figures`. */
export interface FiguresHistory {
  readonly enabled: boolean;
  readonly interval_ms: number;
  readonly window_ms: number;
  readonly points: readonly FiguresPoint[];
}

type Weights = Readonly<Record<string, number>>;

/** A message of `/v1/events`; unknown types (added by later versions) are shown by name. */
export type StreamEvent =
  | { type: 'switch' | 'weights' | 'rollback'; time: string; service: string; from: Weights; to: Weights; active: string; generation: number; reason: string }
  | { type: 'targets'; time: string; service: string; stack: string; targets: readonly string[]; generation: number }
  | { type: 'health'; time: string; service: string; stack: string; target: string; healthy: boolean; source: 'active' | 'passive'; error: string | null }
  | { type: 'failover'; time: string; service: string; from: string; to: string }
  | { type: 'certificate'; time: string; name: string; action: string }
  | { type: 'reload'; time: string; generation: number }
  | { type: 'rollout'; time: string; service: string; action: string; state: string; reason: string | null }
  | { type: 'overrides'; time: string; service: string }
  | ({
      type: 'figures';
      window_ms: number;
      checks?: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, string | null>>>>>>;
    } & FiguresPoint);
