import type { Target } from './target.js';

/** What went wrong talking to an upstream; also the `kind` label of upstream error metrics. */
export type UpstreamErrorKind = 'connect' | 'timeout' | 'reset' | 'protocol' | '5xx';

/** What became of a mirrored copy: `answered` (any status), `failed` (no target, refused, reset, timed out) or `dropped` (over a limit, never sent). */
export type MirrorResult = 'answered' | 'failed' | 'dropped';

/**
 * Pre-bound per-stack instruments the request path reports to. Built once per
 * snapshot (never looked up per request); the metrics module provides the real one.
 */
export interface StackMeter {
  /** One response sent to a client for this stack. */
  response(status: number, seconds: number): void;
  /** One failed upstream attempt. */
  upstreamError(target: Target, kind: UpstreamErrorKind): void;
  /** One request mirrored to this stack, and what became of it. */
  mirror(result: MirrorResult): void;
}

/** Builds the meter of one service/stack. */
export type MeterFactory = (service: string, stack: string) => StackMeter;

/** Reports nowhere (metrics disabled). */
export const NOOP_METER: StackMeter = {
  response() {},
  upstreamError() {},
  mirror() {},
};
