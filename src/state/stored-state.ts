import { z } from 'zod';
import { MAX_OVERRIDES, type Override, overrideSchema, rolloutStepsSchema } from '../config/delivery-schema.js';
import { checkTarget } from '../config/target-address.js';
import type { HistoryEntry, RolloutRecord, ServiceState, Weights } from '../routing/service-state.js';

/** The durable document: each service's runtime state by name. */
export interface PersistedState {
  readonly version: 1;
  readonly services: Readonly<Record<string, ServiceState>>;
}

/** One entry of the state file refused on load: where it was, what it held, and why. */
export interface StoredStateProblem {
  readonly service: string;
  /** Path of the refused field inside the service, e.g. `targets.green[0]`. */
  readonly field: string;
  /** The refused value, as JSON, cut to a readable length. */
  readonly value: string;
  readonly reason: string;
}

/** What a state document held: the usable state and the entries left out, or why the whole document is refused. */
export type StoredStateRead =
  | { readonly ok: true; readonly state: PersistedState; readonly problems: readonly StoredStateProblem[] }
  | { readonly ok: false; readonly reason: string };

/** The file as a whole: anything else is not a switchyard state file (or a newer one) and is refused as such. */
const documentSchema = z.object({ version: z.literal(1), services: z.record(z.string(), z.unknown()) });

const weight = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const generation = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const weightsSchema = z.record(z.string(), weight);
const historyEntry = z.object({
  time: z.string(),
  from: weightsSchema,
  to: weightsSchema,
  reason: z.string(),
  actor: z.string(),
  generation: z.number().int(),
});

const time = z.string().refine((value) => !Number.isNaN(Date.parse(value)), 'must be an ISO time');
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** A stored rollout record (SPEC §10); the etcd store reads its records with it too. */
export const rolloutRecord = z
  .object({
    revision: generation,
    from: z.string().min(1),
    to: z.string().min(1),
    steps: rolloutStepsSchema,
    step: count,
    state: z.enum(['running', 'paused', 'completed', 'aborted']),
    held_by: z.enum(['operator', 'step']).nullable(),
    pause_until: time.nullable(),
    pause_left_ms: count.nullable(),
    gates_passed: z.array(z.enum(['pre_rollout', 'pre_promotion'])),
    passes: count,
    failures: count,
    analysis: z.record(z.string(), z.unknown()).nullable(),
    reason: z.string().nullable(),
    started_at: time,
    updated_at: time,
  })
  .strict()
  .refine((r) => r.step < r.steps.length, { message: 'step is past the last step', path: ['step'] })
  .refine((r) => r.from !== r.to, { message: 'from and to are the same stack', path: ['to'] });

/** Longest refused value quoted in a problem (a log line, not a dump). */
const MAX_SHOWN = 200;

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Reads a parsed state document entry by entry (issue 11): a bad value never stops a
 * start. Each bad entry — a target, a stack's target list, a weight, a history entry, a
 * service's generation or the whole service — is left out and reported in `problems`;
 * everything else is kept. When the document as a whole is not a version-1 state
 * document, the answer says why (the caller refuses the file then, leaving it untouched:
 * starting anyway would overwrite all of it with the next change).
 */
export function readStoredState(document: unknown): StoredStateRead {
  const parsed = documentSchema.safeParse(document);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `not a version 1 state document (${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'})` };
  }
  const problems: StoredStateProblem[] = [];
  const services: Record<string, ServiceState> = {};
  for (const [name, raw] of Object.entries(parsed.data.services)) {
    const report = (field: string, value: unknown, reason: string) => problems.push({ service: name, field, value: show(value), reason });
    const state = readService(raw, report);
    if (state !== undefined) services[name] = state;
  }
  return { ok: true, state: { version: 1, services }, problems };
}

type Report = (field: string, value: unknown, reason: string) => void;

function readService(raw: unknown, report: Report): ServiceState | undefined {
  if (!isRecord(raw)) {
    report('(service)', raw, 'not an object; the config applies to this service');
    return undefined;
  }
  const history = readHistory(raw.history, report);
  const weights = readWeights(raw.weights, report);
  const targets = readTargets(raw.targets, report);
  let gen = raw.generation;
  if (!generation.safeParse(gen).success) {
    // Counting on from the newest recorded change keeps generations rising for If-Match.
    const replacement = Math.max(1, ...history.map((entry) => entry.generation));
    report('generation', gen, `must be an integer >= 1; using ${replacement}`);
    gen = replacement;
  }
  const state: ServiceState = { generation: gen as number, weights, targets, history };
  const overrides = readOverrides(raw.overrides, report);
  const rollout = readRollout(raw.rollout, report);
  return { ...state, ...(overrides === undefined ? {} : { overrides }), ...(rollout === undefined ? {} : { rollout }) };
}

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${issue?.path.join('.') || 'entry'}: ${issue?.message ?? 'invalid'}`;
}

/** Run-time overrides; undefined (the config's apply) when none were stored or the list is unusable. */
function readOverrides(raw: unknown, report: Report): Override[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw) || raw.length > MAX_OVERRIDES) {
    report('overrides', raw, `must be a list of at most ${MAX_OVERRIDES} overrides; the config's overrides apply`);
    return undefined;
  }
  const kept: Override[] = [];
  raw.forEach((value: unknown, i) => {
    const entry = overrideSchema.safeParse(value);
    if (entry.success) kept.push(entry.data);
    else report(`overrides[${i}]`, value, `not an override (${firstIssue(entry.error)}); left out`);
  });
  return kept;
}

/** The stored rollout; a bad one is left out whole (no half-read rollout ever moves traffic). */
function readRollout(raw: unknown, report: Report): RolloutRecord | undefined {
  if (raw === undefined) return undefined;
  const record = rolloutRecord.safeParse(raw);
  if (record.success) return record.data;
  report('rollout', raw, `not a rollout (${firstIssue(record.error)}); left out, no rollout is resumed`);
  return undefined;
}

function readWeights(raw: unknown, report: Report): Weights {
  if (!isRecord(raw)) {
    report('weights', raw, 'must be an object of stack weights; the config applies');
    return {};
  }
  const weights: Record<string, number> = {};
  for (const [stack, value] of Object.entries(raw)) {
    if (weight.safeParse(value).success) weights[stack] = value as number;
    else report(`weights.${stack}`, value, 'must be a non-negative integer; left out');
  }
  if (Object.keys(weights).length > 0 && Object.values(weights).every((w) => w === 0)) {
    report('weights', raw, 'are all zero; the config applies');
    return {};
  }
  return weights;
}

function readTargets(raw: unknown, report: Report): Record<string, readonly string[]> {
  if (raw === undefined) return {};
  if (!isRecord(raw)) {
    report('targets', raw, 'must be an object of target lists per stack; the config applies');
    return {};
  }
  const targets: Record<string, readonly string[]> = {};
  for (const [stack, list] of Object.entries(raw)) {
    if (!Array.isArray(list)) {
      report(`targets.${stack}`, list, 'must be a list of host:port; the config applies to this stack');
      continue;
    }
    const kept: string[] = [];
    list.forEach((value: unknown, i) => {
      const check = checkTarget(value);
      if (check.ok) kept.push(value as string);
      else report(`targets.${stack}[${i}]`, value, `${check.problem}; left out, the stack's other targets are served`);
    });
    targets[stack] = kept;
  }
  return targets;
}

function readHistory(raw: unknown, report: Report): HistoryEntry[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    report('history', raw, 'must be a list; history starts empty');
    return [];
  }
  const history: HistoryEntry[] = [];
  raw.forEach((value: unknown, i) => {
    const entry = historyEntry.safeParse(value);
    if (entry.success) history.push(entry.data);
    else
      report(
        `history[${i}]`,
        value,
        `not a history entry (${entry.error.issues[0]?.path.join('.') || 'entry'}: ${entry.error.issues[0]?.message ?? 'invalid'}); left out`,
      );
  });
  return history;
}
