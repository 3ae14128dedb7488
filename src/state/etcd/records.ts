import { z } from 'zod';
import { overrideSchema } from '../../config/delivery-schema.js';
import type { ServiceState } from '../../routing/service-state.js';
import { rolloutRecord } from '../stored-state.js';
import type { MutationEvent } from '../state-store.js';

/*
 * Key layout under the prefix (default /switchyard/), values are JSON:
 *
 *   <prefix>services/<name>  {"origin","time","state":{generation,weights,targets,history},"event"}
 *   <prefix>certs/<name>     {"origin","time","cert","key","source"} (PEM; key as safe as etcd; source: uploaded, self-signed or acme)
 *   <prefix>locks/acme/<name>        {"owner","time"}  (an ACME order in progress; attached to the orderer's lease)
 *   <prefix>acme/challenges/<token>  {"host","key_authorization","owner"} (an http-01 token in flight; attached to a lease)
 *   <prefix>members/<id>     {"id","address","generation","last_seen"} (attached to a 10 s lease)
 *
 * History lives inside the service key: a switch changes weights and appends history in
 * one conditional put, rollback reads both, and 100 entries stay far below etcd's
 * 1.5 MiB value limit. `event` is the event the writer published (switch, weights,
 * rollback or targets), so every instance publishes the same one. Names are escaped only for "%" and "/" so etcdctl output stays readable.
 */

/** One service's runtime state as stored in etcd, with where and when it was written. */
export interface StoredService {
  readonly state: ServiceState;
  /** Instance id that wrote it. */
  readonly origin: string;
  /** ISO time of the write. */
  readonly time: string;
  /** etcd mod_revision of the key: the version a conditional put must name. */
  readonly modRevision: number;
  /** The event the writer published for this change, if it stored one. */
  readonly event?: MutationEvent | undefined;
}

/** An uploaded certificate as stored in etcd. */
export interface StoredCert {
  readonly cert: string;
  readonly key: string;
  /** Where it came from (absent in values written before sources were shared: uploaded). */
  readonly source?: 'uploaded' | 'self-signed' | 'acme' | undefined;
  readonly origin: string;
  readonly time: string;
  readonly modRevision: number;
}

/** A live fleet member, as it registered itself. */
export interface FleetMember {
  readonly id: string;
  /** Its admin address, for operators. */
  readonly address: string;
  /** The store revision it has applied (comparable across services and instances). */
  readonly generation: number;
  /** ISO time of its last heartbeat. */
  readonly last_seen: string;
}

const weights = z.record(z.string(), z.number().int().min(0));
const serviceState = z.object({
  generation: z.number().int().min(1),
  weights,
  targets: z.record(z.string(), z.array(z.string())),
  history: z.array(z.object({ time: z.string(), from: weights, to: weights, reason: z.string(), actor: z.string(), generation: z.number().int() })),
  // Rollouts and run-time overrides are shared state too (SPEC §9, §10); an unreadable one is dropped, the rest still counts.
  overrides: z.array(overrideSchema).optional().catch(undefined),
  rollout: rolloutRecord.optional().catch(undefined),
});

const eventBase = { time: z.string(), service: z.string(), generation: z.number().int(), origin: z.string().optional() };
const mutationEvent = z.discriminatedUnion('type', [
  z.object({ type: z.enum(['switch', 'weights', 'rollback']), ...eventBase, from: weights, to: weights, active: z.string(), reason: z.string() }),
  z.object({ type: z.literal('targets'), ...eventBase, stack: z.string(), targets: z.array(z.string()) }),
  z.object({ type: z.literal('overrides'), ...eventBase, overrides: z.array(overrideSchema) }),
]);

/** The JSON of a services/<name> value; an unreadable `event` is dropped, the state still counts. */
export const serviceValue = z.object({ origin: z.string(), time: z.string(), state: serviceState, event: mutationEvent.optional().catch(undefined) });
/** The JSON of a certs/<name> value. */
export const certValue = z.object({
  origin: z.string(),
  time: z.string(),
  cert: z.string(),
  key: z.string(),
  source: z.enum(['uploaded', 'self-signed', 'acme']).optional().catch(undefined),
});
/** The JSON of a members/<id> value. */
export const memberValue = z.object({ id: z.string(), address: z.string(), generation: z.number().int().min(0), last_seen: z.string() });

/** A key-value in a gateway answer (bytes as base64, revisions as decimal strings). */
export interface GatewayKv {
  key?: string;
  value?: string;
  mod_revision?: string;
  lease?: string;
}

/** The answer of /v3/kv/range (and of /v3/kv/put: only the header). */
export interface RangeAnswer {
  header?: { revision?: string };
  kvs?: GatewayKv[];
}

/** The answer of /v3/kv/txn; `succeeded` is left out when false. */
export interface TxnAnswer {
  header?: { revision?: string };
  succeeded?: boolean;
  responses?: { response_range?: RangeAnswer }[];
}

/** A service value from its JSON text, or undefined when it is not one. */
export function parseService(text: string, modRevision: number): StoredService | undefined {
  const parsed = parseWith(serviceValue, text);
  if (!parsed) return undefined;
  const { event, state: read, ...rest } = parsed;
  // zod types an optional key as `?: T | undefined`; the event and state types say `?: T`.
  const { overrides, rollout, ...core } = read;
  const state: ServiceState = { ...core, ...(overrides === undefined ? {} : { overrides }), ...(rollout === undefined ? {} : { rollout }) };
  return event === undefined ? { ...rest, state, modRevision } : { ...rest, state, event: event as MutationEvent, modRevision };
}

/** A certificate value from its JSON text, or undefined when it is not one. */
export function parseCert(text: string, modRevision: number): StoredCert | undefined {
  const parsed = parseWith(certValue, text);
  return parsed && { ...parsed, modRevision };
}

/** A member value from its JSON text, or undefined when it is not one. */
export function parseMember(text: string): FleetMember | undefined {
  return parseWith(memberValue, text);
}

function parseWith<T>(schema: z.ZodType<T>, text: string): T | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** What a key under the prefix holds. */
export type KeyKind = 'services' | 'certs' | 'members';

/** Builds and parses keys under one prefix. */
export class KeyLayout {
  /** Always ends in "/". */
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix.endsWith('/') ? prefix : `${prefix}/`;
  }

  /** The key of one item. */
  key(kind: KeyKind, name: string): string {
    return `${this.prefix}${kind}/${escapeName(name)}`;
  }

  /** The directory of one kind, for range reads. */
  dir(kind: KeyKind): string {
    return `${this.prefix}${kind}/`;
  }

  /** Which item a key names, or undefined for keys that are not ours. */
  parse(key: string): { kind: KeyKind; name: string } | undefined {
    if (!key.startsWith(this.prefix)) return undefined;
    const rest = key.slice(this.prefix.length);
    const slash = rest.indexOf('/');
    const kind = rest.slice(0, slash);
    const name = rest.slice(slash + 1);
    if (slash < 0 || name === '' || name.includes('/')) return undefined;
    if (kind !== 'services' && kind !== 'certs' && kind !== 'members') return undefined;
    try {
      return { kind, name: decodeURIComponent(name) };
    } catch {
      return undefined;
    }
  }
}

/** A name as one key segment: "/" and "%" percent-encoded. */
export function escapeName(name: string): string {
  return name.replaceAll('%', '%25').replaceAll('/', '%2F');
}

/** base64 of a UTF-8 string: the gateway's encoding of bytes. */
export function encode(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** UTF-8 text of a base64 gateway value. */
export function decode(base64: string | undefined): string {
  return Buffer.from(base64 ?? '', 'base64').toString('utf8');
}

/** The end of the range of every key starting with `prefix` (prefix with its last byte + 1). */
export function rangeEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    const byte = bytes[i] ?? 0;
    if (byte < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = byte + 1;
      return end.toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64');
}
