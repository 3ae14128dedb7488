import { z } from 'zod';
import { durationSchema as duration, formatDuration, parseDuration } from './duration.js';
import { RELOADS } from './reload-marks.js';

/**
 * The progressive-delivery keys of a service (SPEC §10): `rollout`, `analysis`, `gates`,
 * `overrides` and `mirror`. Every one is applied by a reload: analysis and gates are read
 * at each measurement, overrides and mirror with the routing, rollout steps when a
 * rollout starts.
 */

/** One step of a rollout: a weight for the new stack, a pause (a duration, or `{}` = until promoted), or an analysis run. */
export type RolloutStep =
  | { readonly weight: number }
  | { readonly pause: string | number | Readonly<Record<string, never>> }
  | { readonly analysis: 'default' };

/** Most steps one rollout may have. */
export const MAX_STEPS = 100;

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Why `value` is not a rollout step, or undefined when it is one: the one rule of the config, the API and the state file. */
export function stepProblem(value: unknown): string | undefined {
  const shape = 'a step is {weight: 0-100}, {pause: <duration> or {}} or {analysis: "default"}';
  if (!isRecord(value)) return shape;
  const keys = Object.keys(value);
  if (keys.length !== 1) return `${shape}, with exactly one key`;
  if ('weight' in value) {
    const w = value.weight;
    return typeof w === 'number' && Number.isInteger(w) && w >= 0 && w <= 100 ? undefined : 'weight must be an integer from 0 to 100';
  }
  if ('pause' in value) {
    const p = value.pause;
    if (isRecord(p)) return Object.keys(p).length === 0 ? undefined : 'pause is a duration, or {} to wait for promote';
    return parseDuration(p) === undefined ? 'pause is a duration (integer ms or e.g. "2m"), or {} to wait for promote' : undefined;
  }
  if ('analysis' in value) return value.analysis === 'default' ? undefined : 'analysis must be "default" (the service\'s analysis block)';
  return shape;
}

/** One step in words, for status lines: `weight 50`, `pause 2m`, `pause until promoted`, `analysis`. */
export function describeStep(step: RolloutStep | undefined): string {
  if (step === undefined) return '-';
  if ('weight' in step) return `weight ${step.weight}`;
  if ('analysis' in step) return 'analysis';
  const ms = typeof step.pause === 'object' ? undefined : parseDuration(step.pause);
  return ms === undefined ? 'pause until promoted' : `pause ${formatDuration(ms)}`;
}

/** A list of rollout steps, each checked by stepProblem. */
export const rolloutStepsSchema = z
  .array(
    z.unknown().transform((value, ctx) => {
      const problem = stepProblem(value);
      if (problem !== undefined) {
        ctx.addIssue({ code: 'custom', message: problem });
        return z.NEVER;
      }
      return value as RolloutStep;
    }),
  )
  .min(1)
  .max(MAX_STEPS);

const positiveInt = z.number().int().min(1);
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** `active`, `standby` or a stack name: where an override or the mirror sends requests. */
const stackRef = z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be "active", "standby" or a stack name');

/** Names a service's config may send requests to besides its stacks. */
export const STACK_ROLES: readonly string[] = ['active', 'standby'];

/** How a canary is judged: each `interval`, one measurement of the target stack. */
export const analysisSchema = z
  .object({
    /** Length of one measurement (default 30s). */
    interval: duration.default(30_000).refine((ms) => ms >= 100, 'must be at least 100ms'),
    /** Passed measurements an analysis step needs (default 4); an inconclusive one does not count. */
    count: positiveInt.default(4),
    /** Failed measurements that abort the rollout (default 1). */
    failure_limit: positiveInt.default(1),
    /** Requests an interval needs before the builtin provider judges it; fewer is inconclusive (default 50). */
    min_requests: positiveInt.default(50),
    /** Highest share of 5xx answers (0–1) the builtin provider passes (default 0.01). */
    max_error_rate: z.number().min(0).max(1).default(0.01),
    /** Highest p99 latency in ms the builtin provider passes; unset = latency not judged. */
    max_p99_ms: z.number().positive().optional(),
    /** `builtin` (switchyard's own counters) or `prometheus` (a PromQL query). */
    provider: z.enum(['builtin', 'prometheus']).default('builtin'),
    prometheus: z
      .object({
        /** Base URL of the Prometheus HTTP API, e.g. http://127.0.0.1:9090. */
        url: httpUrl,
        /** PromQL returning one value; `{{service}}`, `{{stack}}`, `{{from}}` and `{{interval}}` are filled in. */
        query: z.string().min(1),
        /** Highest value that passes (default: max_error_rate). */
        max: z.number().optional(),
        /** Lowest value that passes (default: none). */
        min: z.number().optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((analysis, ctx) => {
    if (analysis.provider === 'prometheus' && analysis.prometheus === undefined)
      ctx.addIssue({ code: 'custom', path: ['prometheus'], message: 'provider prometheus needs prometheus: {url, query}' });
  })
  .meta(RELOADS);

/** Webhooks asked before a rollout starts and before it gives the new stack 100 %. */
export const gatesSchema = z
  .object({
    /** POSTed the rollout JSON before the first step; 2xx proceeds. */
    pre_rollout: httpUrl.optional(),
    /** POSTed the rollout JSON before the step that gives the new stack 100 %; 2xx proceeds. */
    pre_promotion: httpUrl.optional(),
    /** A gate not answered within this counts as a failed measurement (default 10s). */
    timeout: duration.default(10_000),
  })
  .strict()
  .meta(RELOADS);

/** Header field names (RFC 9110 §5.6.2 token). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** One override: requests whose header (or cookie) has `value` go to `to`, whatever the weights and sticky cookies say. */
export const overrideSchema = z
  .object({
    /** Request header to match (case-insensitive name). */
    header: z.string().regex(TOKEN, 'must be a header field name').max(100).optional(),
    /** Cookie to match. */
    cookie: z.string().regex(TOKEN, 'must be a cookie name').max(100).optional(),
    /** Exact value that matches. */
    value: z.string().min(1).max(1024),
    /** `active`, `standby` or a stack name. */
    to: stackRef,
  })
  .strict()
  .refine((o) => (o.header === undefined) !== (o.cookie === undefined), 'give either header or cookie');

/** An override as configured or PUT at run time. */
export type Override = z.output<typeof overrideSchema>;

/** Most overrides one service may have. */
export const MAX_OVERRIDES = 32;

/** The overrides of a service. */
export const overridesSchema = z.array(overrideSchema).max(MAX_OVERRIDES).default([]).meta(RELOADS);

/** Copies a share of idempotent requests to another stack, fire-and-forget. */
export const mirrorSchema = z
  .object({
    /** `standby` (default), `active` or a stack name; never the stack that answers the client. */
    to: stackRef.default('standby'),
    /** Share of idempotent requests copied, 0–100 (default 100). */
    percent: z.number().min(0).max(100).default(100),
    /** Largest request body copied, in bytes; a larger one is not mirrored (default 64 KiB). */
    max_body: z.number().int().min(0).default(65_536),
    /** Most mirrored requests in flight per service; beyond it copies are dropped (default 32). */
    max_concurrent: positiveInt.default(32),
    /** A mirrored request not answered within this is given up (default 5s). */
    timeout: duration.default(5_000),
  })
  .strict()
  .meta(RELOADS);

/** Default steps for rollouts of the service. */
export const rolloutSchema = z
  .object({
    /** Steps a rollout started without its own list runs. */
    steps: rolloutStepsSchema,
  })
  .strict()
  .meta(RELOADS);
