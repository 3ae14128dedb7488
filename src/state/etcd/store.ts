import type { Logger } from 'pino';
import { SwitchyardError } from '../../errors.js';
import type { ServiceState } from '../../routing/service-state.js';
import type { MutationEvent } from '../state-store.js';
import type { PersistedState } from '../stored-state.js';
import { type ConnectionListener, EtcdClient, type EtcdClientOptions } from './client.js';
import { waitForFleet } from './fleet-wait.js';
import { listMembers, MEMBER_TTL_SECONDS, MemberLease } from './members.js';
import { encode, type FleetMember, KeyLayout, type RangeAnswer, rangeEnd, type StoredCert, type StoredService } from './records.js';
import { StoreMirror } from './store-mirror.js';
import { type StoreChange, type StoreSnapshot, StoreWatch } from './store-watch.js';
import { deleteCert, putCert, putService, seedServices, type WriteContext } from './store-writes.js';
import { WriteGate } from './write-gate.js';

export { StoreConflictError } from './store-writes.js';

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

/** A handle on a running watch. */
export interface StoreWatchHandle {
  /** The last revision delivered. */
  readonly revision: number;
  close(): Promise<void>;
}

/**
 * Runtime state in etcd, shared by a fleet (SPEC §9). Every call is bounded by the
 * client timeout and fails with STORE_UNAVAILABLE when etcd does not answer. What the
 * store sees (its own writes, reads and the watch) goes through its mirror
 * (store-mirror.ts): into the local cache file, and watch events it already knows (its
 * own writes) are dropped, so a change is reported once.
 */
export class EtcdStateStore {
  readonly layout: KeyLayout;
  readonly instanceId: string;
  private readonly client: EtcdClient;
  private readonly mirror: StoreMirror;
  private readonly probeInterval: number;
  private readonly memberTtl: number;
  private readonly log: Logger | undefined;
  private member: MemberLease | undefined;
  private readonly watches = new Set<StoreWatch>();
  private readonly gate = new WriteGate();
  /** What the writes (store-writes.ts) use. */
  private readonly writes: WriteContext;
  private closed = false;

  constructor(options: EtcdStateStoreOptions) {
    this.client = new EtcdClient(options);
    this.layout = new KeyLayout(options.prefix ?? '/switchyard/');
    this.instanceId = options.instanceId;
    this.probeInterval = options.probeInterval ?? 1000;
    this.memberTtl = options.memberTtl ?? MEMBER_TTL_SECONDS;
    this.log = options.log;
    this.mirror = new StoreMirror(this.layout, options.cachePath, options.log);
    this.writes = { client: this.client, layout: this.layout, instanceId: this.instanceId, gate: this.gate, mirror: this.mirror };
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
    return this.mirror.snapshot(answer);
  }

  /**
   * Writes each service that etcd does not have yet (create_revision == 0, one txn per
   * service), so instances starting together do not overwrite each other: the first
   * write wins and everyone gets the winner's state back.
   */
  seedIfAbsent(states: ReadonlyMap<string, ServiceState>): Promise<{ seeded: string[]; services: Map<string, StoredService> }> {
    return seedServices(this.writes, states);
  }

  /**
   * Stores a service's state (and the event its change published) if its key is still at
   * `expectedModRevision` (0: absent). Resolves once etcd committed it; a lost race throws
   * StoreConflictError with the current value, an unreachable etcd STORE_UNAVAILABLE.
   */
  put(service: string, state: ServiceState, expectedModRevision: number, event?: MutationEvent): Promise<StoredService> {
    return putService(this.writes, service, state, expectedModRevision, event);
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
        ingest: (event) => this.mirror.ingest(event),
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
  putCert(name: string, cert: string, key: string, source: StoredCert['source'] = 'uploaded'): Promise<StoredCert> {
    return putCert(this.writes, name, cert, key, source);
  }

  /** Removes a certificate; false when there was none. */
  deleteCert(name: string): Promise<boolean> {
    return deleteCert(this.writes, name);
  }

  /** Every stored certificate. */
  async listCerts(): Promise<Map<string, StoredCert>> {
    const dir = this.layout.dir('certs');
    const answer = await this.client.call<RangeAnswer>('/v3/kv/range', { key: encode(dir), range_end: rangeEnd(dir) });
    return this.mirror.certs(answer);
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
  loadCache(): Promise<PersistedState | undefined> {
    return this.mirror.loadCache();
  }

  /** Resolves when the cache file holds everything seen so far. */
  flushCache(): Promise<void> {
    return this.mirror.flushCache();
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
    await this.mirror.flushCache();
    await this.client.close();
  }
}
