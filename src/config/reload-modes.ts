import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { z } from 'zod';
import { deepFreeze } from './load.js';
import { type Config, configSchema, type ReloadMode } from './schema.js';

/** One config key (dotted path) and when it takes effect; undefined when the schema does not say. */
export interface KeyMode {
  readonly key: string;
  readonly mode: ReloadMode | undefined;
}

/** A restart-only key a reload wanted to change: it keeps its running value. */
export interface KeptKey {
  readonly key: string;
  readonly running: unknown;
  readonly next: unknown;
}

/** The schema one wrapper (default, prefault, optional, transform) holds, if `schema` is one. */
function inner(schema: z.ZodType): z.ZodType | undefined {
  const def = schema._zod.def as { innerType?: z.ZodType; in?: z.ZodType };
  return schema instanceof z.ZodPipe ? def.in : def.innerType;
}

/** The schema inside every wrapper. */
function unwrap(schema: z.ZodType): z.ZodType {
  const next = inner(schema);
  return next === undefined ? schema : unwrap(next);
}

/** The mark on a key's schema or on any wrapper around it (`.meta()` may come before or after `.default()`). */
function modeOf(schema: z.ZodType | undefined): ReloadMode | undefined {
  if (schema === undefined) return undefined;
  const mark = z.globalRegistry.get(schema)?.reload;
  return mark === 'reload' || mark === 'restart' ? mark : modeOf(inner(schema));
}

/**
 * Every key of an object schema down to its leaves (arrays such as `services` count as
 * one key), with the mode marked on it or on the nearest object above it. A key with no
 * mark at all comes back as `undefined`, which a test forbids.
 */
export function keyModes(schema: z.ZodType = configSchema, prefix = '', inherited?: ReloadMode): KeyMode[] {
  const object = unwrap(schema);
  if (object instanceof z.ZodUnion && object.options.every((option) => unwrap(option as z.ZodType) instanceof z.ZodObject)) {
    // A union of objects (`state`: file or etcd): every key of every variant, once.
    const seen = new Set<string>();
    return (object.options as z.ZodType[])
      .flatMap((option) => keyModes(option, prefix, modeOf(option) ?? inherited))
      .filter((mode) => !seen.has(mode.key) && seen.add(mode.key));
  }
  if (!(object instanceof z.ZodObject)) return [{ key: prefix, mode: inherited }];
  return Object.entries(object.shape as Record<string, z.ZodType>).flatMap(([name, field]) =>
    keyModes(field, prefix ? `${prefix}.${name}` : name, modeOf(field) ?? inherited),
  );
}

/** The restart-only keys of the config, in schema order. */
export const RESTART_ONLY_KEYS: readonly string[] = keyModes()
  .filter((k) => k.mode === 'restart')
  .map((k) => k.key);

function valueAt(config: unknown, key: string): unknown {
  let value = config;
  for (const part of key.split('.')) value = (value as Record<string, unknown> | undefined)?.[part];
  return value;
}

/** Sets (or, for undefined, removes) a key; a key of one variant of a union may lack its parent object in the other. */
function setAt(config: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  const last = parts.pop() as string;
  let holder = config;
  for (const part of parts) {
    if (holder[part] === undefined) {
      if (value === undefined) return;
      holder[part] = {};
    }
    holder = holder[part] as Record<string, unknown>;
  }
  if (value === undefined) delete holder[last];
  else holder[last] = value;
}

/**
 * The config a reload applies: `next` with every restart-only key set back to its
 * running value, and the list of those that differed (each to be logged).
 */
export function keepRestartOnly(running: Config, next: Config): { config: Config; kept: KeptKey[] } {
  const kept: KeptKey[] = [];
  for (const key of RESTART_ONLY_KEYS) {
    const was = valueAt(running, key);
    const wanted = valueAt(next, key);
    if (!isDeepStrictEqual(was, wanted)) kept.push({ key, running: was, next: wanted });
  }
  if (kept.length === 0) return { config: next, kept };
  const config = structuredClone(next) as Config & Record<string, unknown>;
  for (const { key, running: value } of kept) {
    // A key whose object the running config lacks (`state.tls` of a file store) goes with that object.
    const parts = key.split('.');
    const absent = parts.findIndex((_, i) => valueAt(running, parts.slice(0, i + 1).join('.')) === undefined);
    setAt(config, absent === -1 ? key : parts.slice(0, absent + 1).join('.'), structuredClone(value));
  }
  return { config: deepFreeze(config), kept };
}

/** Logs each restart-only key a reload kept, with both values: the change waits for a restart. */
export function warnKept(log: Logger, kept: readonly KeptKey[]): void {
  for (const { key, running, next } of kept) {
    log.warn({ key, running, new: next }, `${key} changes only on restart: keeping ${JSON.stringify(running)}, not ${JSON.stringify(next)}`);
  }
}
