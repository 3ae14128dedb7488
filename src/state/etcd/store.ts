import type { Logger } from 'pino';
import { SwitchyardError } from '../../errors.js';
import type { ServiceState } from '../../routing/service-state.js';
import type { MutationEvent } from '../state-store.js';
import type { PersistedState } from '../stored-state.js';
import { StateCache } from './cache.js';
import { type ConnectionListener, EtcdClient, type EtcdClientOptions } from './client.js';
import { waitForFleet } from './fleet-wait.js';
import { listMembers, MEMBER_TTL_SECONDS, MemberLease } from './members.js';
import {
  decode,
  encode,
  type FleetMember,
  KeyLayout,
  parseCert,
  parseMember,
  parseService,
  type RangeAnswer,
  rangeEnd,
  type StoredCert,
  type StoredService,
  type TxnAnswer,
} from './records.js';
import { type StoreChange, type StoreSnapshot, StoreWatch } from './store-watch.js';
import type { KvEvent } from './watch.js';
import { WriteGate } from './write-gate.js';

/** Options of the etcd store (resolved: PEM contents and credentials, not file names or env names). */
export interface EtcdStateStoreOptions extends EtcdClientOptions {
  /** Key prefix; default /switchyard/. */
  readonly prefix?: string | undefined;
  /** This instance's id: the origin of its writes and its member key. */
  readonly instanceId: string;
  /** Local cache file of the services' state (state.path); none when undefined. */
  readonly cachePath?: string | undefined;
  /** How often a watching store probes etcd (ms). Default 1000. */
  readonly probeInterval?: number | undefined;
  /** Member lease TTL in seconds. Default 10. */
  readonly memberTtl?: number | undefined;
  readonly log?: Logger | undefined;
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

/** A handle on a running watch. */
export interface StoreWatchHandle {
  /** The last revision delivered. */
  readonly revision: number;
  close(): Promise<void>;
}

/**
 * Runtime state in etcd, shared by a fleet (SPEC §9). Every call is bounded by the
 * client timeout and fails with STORE_UNAVAILABLE when etcd does not answer. The store
 * mirrors what it has seen (its own writes, reads and the watch) into the local cache
 * file and drops watch events it already knows (its own writes), so a change is
 * reported once.
 */
export class EtcdStateStore {
  readonly layout: KeyLayout;
  readonly instanceId: string;
  private readonly client: EtcdClient;
  private readonly cache: StateCache | undefined;
  private readonly probeInterval: number;
  private readonly memberTtl: number;
  private readonly log: Logger | undefined;
  /** Highest mod revision seen per key: watch events at or below it are duplicates. */
  private readonly known = new Map<string, number>();
  private member: MemberLease | undefined;
  private readonly watches = new Set<StoreWatch>();
  private readonly gate = new WriteGate();
  private closed = false;

  constructor(options: EtcdStateStoreOptions) {
    this.client = new EtcdClient(options);
    this.layout = new KeyLayout(options.prefix ?? '/switchyard/');
    this.instanceId = options.instanceId;
    this.probeInterval = options.probeInterval ?? 1000;
    this.memberTtl = options.memberTtl ?? MEMBER_TTL_SECONDS;
    this.log = options.log;
    this.cache = options.cachePath ? new StateCache(options.cachePath, (err) => this.log?.error({ err }, 'state cache write failed')) : undefined;
  }

  /** The etcd client (for the ACME lock and challenges, which share its connections). */
  get etcdClient(): EtcdClient {
    return this.client;
  }

  /** True while etcd answers, false after it stopped answering, undefined before the first call. */
  get connected(): boolean | undefined {
    return this.client.connected;
  }

  /** Calls `listener` on every reachability transition (for switchyard_store_connected and a log line). */
  onConnection(listener: ConnectionListener): () => void {
    return this.client.onConnection(listener);
  }

  /** Every service and certificate at one revision. */
  async loadAll(): Promise<StoreSnapshot> {
    const answer = await this.client.call<RangeAnswer>('/v3/kv/range', { key: encode(this.layout.prefix), range_end: rangeEnd(this.layout.prefix) });
    const services = new Map<string, StoredService>();
    const certs = new Map<string, StoredCert>();
    this.known.clear();
    for (const kv of answer.kvs ?? []) {
      const key = decode(kv.key);
      const item = this.layout.parse(key);
      const modRevision = Number(kv.mod_revision ?? 0);
      this.known.set(key, modRevision);
      if (item?.kind === 'services') {
        const value = this.parseService(key, decode(kv.value), modRevision);
        if (value) services.set(item.name, value);
      } else if (item?.kind === 'certs') {
        const value = this.parseCert(key, decode(kv.value), modRevision);
        if (value) certs.set(item.name, value);
      }
    }
    this.cache?.replace(new Map([...services].map(([name, stored]) => [name, stored.state])));
    return { revision: Number(answer.header?.revision ?? 0), services, certs };
  }

  /**
   * Writes each service that etcd does not have yet (create_revision == 0, one txn per
   * service), so instances starting together do not overwrite each other: the first
   * write wins and everyone gets the winner's state back.
   */
  async seedIfAbsent(states: ReadonlyMap<string, ServiceState>): Promise<{ seeded: string[]; services: Map<string, StoredService> }> {
    const seeded: string[] = [];
    const services = new Map<string, StoredService>();
    await Promise.all(
      [...states].map(async ([name, state]) => {
        const key = this.layout.key('services', name);
        const value = this.serviceRecord(state);
        await this.gate.write(async () => {
          const answer = await this.client.call<TxnAnswer>(
            '/v3/kv/txn',
            {
              compare: [{ key: encode(key), target: 'CREATE', result: 'EQUAL', create_revision: '0' }],
              success: [{ request_put: { key: encode(key), value: encode(JSON.stringify(value)) } }],
              failure: [{ request_range: { key: encode(key) } }],
            },
            'once',
          );
          const stored = answer.succeeded ? { ...value, modRevision: Number(answer.header?.revision ?? 0) } : this.fromRange(key, answer);
          if (answer.succeeded) seeded.push(name);
          if (stored) {
            this.remember(key, stored.modRevision);
            this.cache?.set(name, stored.state);
            services.set(name, stored);
          }
        });
      }),
    );
    return { seeded: seeded.sort(), services };
  }

  /**
   * Stores a service's state (and the event its change published) if its key is still at
   * `expectedModRevision` (0: absent). Resolves once etcd committed it; a lost race throws
   * StoreConflictError with the current value, an unreachable etcd STORE_UNAVAILABLE.
   */
  async put(service: string, state: ServiceState, expectedModRevision: number, event?: MutationEvent): Promise<StoredService> {
    const key = this.layout.key('services', service);
    const value = this.serviceRecord(state, event);
    return this.gate.write(async () => {
      const answer = await this.client.call<TxnAnswer>(
        '/v3/kv/txn',
        {
          compare: [{ key: encode(key), target: 'MOD', result: 'EQUAL', mod_revision: String(expectedModRevision) }],
          success: [{ request_put: { key: encode(key), value: encode(JSON.stringify(value)) } }],
          failure: [{ request_range: { key: encode(key) } }],
        },
        'once',
      );
      if (!answer.succeeded) throw new StoreConflictError(service, expectedModRevision, this.fromRange(key, answer));
      const stored: StoredService = { ...value, modRevision: Number(answer.header?.revision ?? 0) };
      this.remember(key, stored.modRevision);
      this.cache?.set(service, state);
      return stored;
    });
  }

  /**
   * Watches every key under the prefix from `fromRevision` (snapshot.revision + 1) and
   * reports each change once, in revision order, including other instances' writes,
   * certificates and members. Survives etcd restarts without missing a revision; after a
   * compaction it reports a full `reload`.
   */
  watch(fromRevision: number, onChange: (change: StoreChange) => void): StoreWatchHandle {
    const watch = new StoreWatch(
      {
        client: this.client,
        prefix: this.layout.prefix,
        ingest: (event) => this.ingest(event),
        gate: this.gate,
        load: () => this.loadAll(),
        probeInterval: this.probeInterval,
        onError: (err) => this.log?.error({ err }, 'etcd watch handler failed'),
      },
      fromRevision,
      onChange,
    );
    this.watches.add(watch);
    return {
      get revision() {
        return watch.revision;
      },
      close: async () => {
        this.watches.delete(watch);
        await watch.close();
      },
    };
  }

  /** Adds or replaces a certificate (PEM cert chain and key, and where it came from). */
  async putCert(name: string, cert: string, key: string, source: StoredCert['source'] = 'uploaded'): Promise<StoredCert> {
    const etcdKey = this.layout.key('certs', name);
    const value = { origin: this.instanceId, time: new Date().toISOString(), cert, key, source };
    return this.gate.write(async () => {
      const answer = await this.client.call<RangeAnswer>('/v3/kv/put', { key: encode(etcdKey), value: encode(JSON.stringify(value)) }, 'once');
      const stored = { ...value, modRevision: Number(answer.header?.revision ?? 0) };
      this.remember(etcdKey, stored.modRevision);
      return stored;
    });
  }

  /** Removes a certificate; false when there was none. */
  async deleteCert(name: string): Promise<boolean> {
    const key = this.layout.key('certs', name);
    return this.gate.write(async () => {
      const answer = await this.client.call<{ header?: { revision?: string }; deleted?: string }>('/v3/kv/deleterange', { key: encode(key) }, 'once');
      const deleted = Number(answer.deleted ?? 0) > 0;
      // Only a real delete has a watch event of its own to drop.
      if (deleted) this.remember(key, Number(answer.header?.revision ?? 0));
      return deleted;
    });
  }

  /** Every stored certificate. */
  async listCerts(): Promise<Map<string, StoredCert>> {
    const dir = this.layout.dir('certs');
    const answer = await this.client.call<RangeAnswer>('/v3/kv/range', { key: encode(dir), range_end: rangeEnd(dir) });
    const certs = new Map<string, StoredCert>();
    for (const kv of answer.kvs ?? []) {
      const key = decode(kv.key);
      const item = this.layout.parse(key);
      const value = item && this.parseCert(key, decode(kv.value), Number(kv.mod_revision ?? 0));
      if (item && value) certs.set(item.name, value);
    }
    return certs;
  }

  /**
   * Registers this instance under members/<instanceId> with a lease (TTL 10 s) kept alive
   * in the background, publishing `generation` (the revision it has loaded); a lost lease
   * is registered again. Rejects with STORE_UNAVAILABLE
   * when etcd is down, but keeps trying in the background.
   */
  async register(address: string, generation = 0): Promise<void> {
    if (this.member) throw new Error('already registered');
    this.member = new MemberLease(this.client, this.layout, this.instanceId, address, this.memberTtl, (err) => {
      // An outage is reported once through onConnection, not on every heartbeat.
      if (err instanceof SwitchyardError && err.code === 'STORE_UNAVAILABLE') return;
      this.log?.warn({ err }, 'fleet membership heartbeat failed');
    });
    await this.member.start(generation);
  }

  /** Publishes the generation (applied store revision) of this instance; resolves once stored. */
  async publishGeneration(generation: number): Promise<void> {
    if (!this.member) throw new Error('register first');
    await this.member.publish(generation);
  }

  /** The live members of the fleet. */
  members(): Promise<FleetMember[]> {
    return listMembers(this.client, this.layout);
  }

  /**
   * `?wait=all`: resolves with the members once every live one has published `generation`
   * (a store revision) or more; FleetLaggingError (504, naming them) after `timeoutMs`.
   */
  waitForGeneration(generation: number, timeoutMs = 5000): Promise<FleetMember[]> {
    return waitForFleet(this.client, this.layout, generation, timeoutMs);
  }

  /** The cached state (for a start while etcd is unreachable), or undefined. */
  async loadCache(): Promise<PersistedState | undefined> {
    return this.cache?.load();
  }

  /** Resolves when the cache file holds everything seen so far. */
  async flushCache(): Promise<void> {
    await this.cache?.flush();
  }

  /**
   * Stops watches and the heartbeat and closes connections. `leave: false` keeps the
   * member key until its lease expires (what etcd sees when an instance crashes).
   */
  async close(options: { leave?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.watches].map((w) => w.close()));
    this.watches.clear();
    await this.member?.stop(options.leave ?? true);
    this.member = undefined;
    await this.cache?.flush();
    await this.client.close();
  }

  private ingest(event: KvEvent): StoreChange | undefined {
    const item = this.layout.parse(event.key);
    if (!item) return undefined;
    if ((this.known.get(event.key) ?? 0) >= event.modRevision) return undefined;
    this.known.set(event.key, event.modRevision);
    const revision = event.modRevision;
    const deleted = event.type === 'delete';
    switch (item.kind) {
      case 'services': {
        const value = deleted ? undefined : this.parseService(event.key, event.value, revision);
        if (!deleted && !value) return undefined;
        this.cache?.set(item.name, value?.state);
        return { kind: 'service', name: item.name, value, revision };
      }
      case 'certs': {
        const value = deleted ? undefined : this.parseCert(event.key, event.value, revision);
        if (!deleted && !value) return undefined;
        return { kind: 'cert', name: item.name, value, revision };
      }
      case 'members': {
        const value = deleted ? undefined : parseMember(event.value);
        return { kind: 'member', id: item.name, value, revision };
      }
      default: {
        const never: never = item.kind;
        return never;
      }
    }
  }

  private remember(key: string, modRevision: number): void {
    if ((this.known.get(key) ?? 0) < modRevision) this.known.set(key, modRevision);
  }

  private serviceRecord(state: ServiceState, event?: MutationEvent): Omit<StoredService, 'modRevision'> {
    const record = { origin: this.instanceId, time: new Date().toISOString(), state };
    return event === undefined ? record : { ...record, event };
  }

  private fromRange(key: string, answer: TxnAnswer): StoredService | undefined {
    const kv = answer.responses?.[0]?.response_range?.kvs?.[0];
    return kv ? this.parseService(key, decode(kv.value), Number(kv.mod_revision ?? 0)) : undefined;
  }

  private parseService(key: string, text: string, modRevision: number): StoredService | undefined {
    const parsed = parseService(text, modRevision);
    if (!parsed) this.log?.warn({ key }, 'etcd key holds no valid service state; ignored');
    return parsed;
  }

  private parseCert(key: string, text: string, modRevision: number): StoredCert | undefined {
    const parsed = parseCert(text, modRevision);
    if (!parsed) this.log?.warn({ key }, 'etcd key holds no valid certificate; ignored');
    return parsed;
  }
}
