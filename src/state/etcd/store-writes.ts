import type { ServiceState } from '../../routing/service-state.js';
import type { MutationEvent } from '../state-store.js';
import type { EtcdClient } from './client.js';
import { encode, type KeyLayout, type RangeAnswer, type StoredCert, type StoredService, type TxnAnswer } from './records.js';
import type { StoreMirror } from './store-mirror.js';
import type { WriteGate } from './write-gate.js';

/**
 * Every write of the etcd store, apart from its reads, watch and membership. Each runs
 * through the write gate and tells the mirror what it wrote, so the watch event of the
 * write comes back as a duplicate and is dropped. Service records are written with a
 * condition (create-if-absent for seeding, the expected mod revision for a mutation) in
 * one txn that reads the key back when the condition fails, so a loser learns the winner.
 */

/** What the writes use of their store. */
export interface WriteContext {
  readonly client: EtcdClient;
  readonly layout: KeyLayout;
  /** The origin of every record written. */
  readonly instanceId: string;
  readonly gate: WriteGate;
  readonly mirror: StoreMirror;
}

/** A conditional put lost: the key is no longer at the revision the caller named. */
export class StoreConflictError extends Error {
  /** What the key holds now (undefined when it was deleted or never existed). */
  readonly current: StoredService | undefined;

  constructor(service: string, expected: number, current: StoredService | undefined) {
    super(`service "${service}" changed in etcd (expected revision ${expected}, now ${current?.modRevision ?? 'absent'})`);
    this.name = 'StoreConflictError';
    this.current = current;
  }
}

/** A compare of a conditional put (the txn's `compare` entry without its key). */
type PutCondition = { readonly target: 'CREATE'; readonly create_revision: '0' } | { readonly target: 'MOD'; readonly mod_revision: string };

/** Writes each service etcd does not hold yet; see EtcdStateStore.seedIfAbsent. */
export async function seedServices(
  context: WriteContext,
  states: ReadonlyMap<string, ServiceState>,
): Promise<{ seeded: string[]; services: Map<string, StoredService> }> {
  const seeded: string[] = [];
  const services = new Map<string, StoredService>();
  await Promise.all(
    [...states].map(async ([name, state]) => {
      const key = context.layout.key('services', name);
      const value = serviceRecord(context, state);
      await context.gate.write(async () => {
        const answer = await putIf(context.client, key, value, { target: 'CREATE', create_revision: '0' });
        const stored = answer.succeeded ? { ...value, modRevision: Number(answer.header?.revision ?? 0) } : context.mirror.fromRange(key, answer);
        if (answer.succeeded) seeded.push(name);
        if (stored) {
          context.mirror.service(name, key, stored);
          services.set(name, stored);
        }
      });
    }),
  );
  return { seeded: seeded.sort(), services };
}

/** Stores a service's state if its key is still at `expectedModRevision`; see EtcdStateStore.put. */
export async function putService(
  context: WriteContext,
  service: string,
  state: ServiceState,
  expectedModRevision: number,
  event: MutationEvent | undefined,
): Promise<StoredService> {
  const key = context.layout.key('services', service);
  const value = serviceRecord(context, state, event);
  return context.gate.write(async () => {
    const answer = await putIf(context.client, key, value, { target: 'MOD', mod_revision: String(expectedModRevision) });
    if (!answer.succeeded) throw new StoreConflictError(service, expectedModRevision, context.mirror.fromRange(key, answer));
    const stored: StoredService = { ...value, modRevision: Number(answer.header?.revision ?? 0) };
    context.mirror.service(service, key, stored);
    return stored;
  });
}

/** Adds or replaces a certificate, unconditionally. */
export async function putCert(context: WriteContext, name: string, cert: string, key: string, source: StoredCert['source']): Promise<StoredCert> {
  const etcdKey = context.layout.key('certs', name);
  const value = { origin: context.instanceId, time: new Date().toISOString(), cert, key, source };
  return context.gate.write(async () => {
    const answer = await context.client.call<RangeAnswer>('/v3/kv/put', { key: encode(etcdKey), value: encode(JSON.stringify(value)) }, 'once');
    const stored = { ...value, modRevision: Number(answer.header?.revision ?? 0) };
    context.mirror.remember(etcdKey, stored.modRevision);
    return stored;
  });
}

/** Removes a certificate; false when there was none. */
export async function deleteCert(context: WriteContext, name: string): Promise<boolean> {
  const key = context.layout.key('certs', name);
  return context.gate.write(async () => {
    const answer = await context.client.call<{ header?: { revision?: string }; deleted?: string }>('/v3/kv/deleterange', { key: encode(key) }, 'once');
    const deleted = Number(answer.deleted ?? 0) > 0;
    // Only a real delete has a watch event of its own to drop.
    if (deleted) context.mirror.remember(key, Number(answer.header?.revision ?? 0));
    return deleted;
  });
}

function serviceRecord(context: WriteContext, state: ServiceState, event?: MutationEvent): Omit<StoredService, 'modRevision'> {
  const record = { origin: context.instanceId, time: new Date().toISOString(), state };
  return event === undefined ? record : { ...record, event };
}

/**
 * Puts `value` at `key` in one txn if `condition` holds; when it does not, the answer
 * carries what the key holds now (its first response), so the caller learns the winner.
 */
function putIf(client: EtcdClient, key: string, value: unknown, condition: PutCondition): Promise<TxnAnswer> {
  return client.call<TxnAnswer>(
    '/v3/kv/txn',
    {
      compare: [{ key: encode(key), ...condition, result: 'EQUAL' }],
      success: [{ request_put: { key: encode(key), value: encode(JSON.stringify(value)) } }],
      failure: [{ request_range: { key: encode(key) } }],
    },
    'once',
  );
}
