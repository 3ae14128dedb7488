import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { SwitchyardError } from '../../errors.js';
import type { CertificateReplica } from '../../tls/store.js';
import { type StateStore, type StoreCommit, StoreConflict, type VersionedState } from '../state-store.js';
import { EtcdAcmeCoordinator } from './acme-coordination.js';
import { applyChange, type FleetSinks, installCerts } from './fleet-apply.js';
import { FleetView, versioned } from './fleet-view.js';
import { LeaseLocks } from './lease-lock.js';
import type { FleetMember, StoredCert } from './records.js';
import type { EtcdStateStore, StoreWatchHandle } from './store.js';
import type { StoreChange, StoreSnapshot } from './store-watch.js';
import { StoreConflictError } from './store-writes.js';

export type { FleetSinks } from './fleet-apply.js';

/** Options of the fleet store. */
export interface FleetStoreOptions {
  /** How long `?wait=all` waits for every member (ms). */
  readonly waitTimeout: number;
  /** Pause between two attempts to reach etcd after a start without it (ms). Default 1000. */
  readonly retryInterval?: number;
  readonly log: Logger;
}

function unavailable(err: unknown): boolean {
  return err instanceof SwitchyardError && err.code === 'STORE_UNAVAILABLE';
}

/**
 * The state of a fleet (SPEC §9): the controller's StateStore over etcd, plus what being
 * one of several instances takes. At start it reads etcd, seeds the services etcd does not
 * have yet and says where this config and etcd disagree; without etcd it serves the cache
 * file, refuses mutations (503) and keeps trying, then catches up (etcd wins). It follows
 * the prefix and hands other instances' changes to the controller and the certificate
 * store, registers this instance as a member and publishes the store revision it serves.
 * What it knows of etcd's services and how a full read is adopted live in fleet-view.ts,
 * how a change goes live here in fleet-apply.ts.
 */
export class FleetStateStore implements StateStore, CertificateReplica {
  readonly origin: string;
  private readonly etcd: EtcdStateStore;
  private readonly waitTimeout: number;
  private readonly retryInterval: number;
  private readonly log: Logger;
  /** False while serving the cache: etcd's versions are unknown, so nothing can be committed. */
  private synced = false;
  /** What the last full read returned, until follow() takes it over. */
  private loaded: StoreSnapshot | undefined;
  /** The newest state seen of every service in etcd, served here or not. */
  private readonly view: FleetView;
  private sinks: FleetSinks | undefined;
  private watch: StoreWatchHandle | undefined;
  private address: string | undefined;
  private registered = false;
  /** The newest store revision this instance serves (its member generation). */
  private served = 0;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  private acme: EtcdAcmeCoordinator | undefined;

  constructor(etcd: EtcdStateStore, options: FleetStoreOptions) {
    this.etcd = etcd;
    this.origin = etcd.instanceId;
    this.waitTimeout = options.waitTimeout;
    this.retryInterval = options.retryInterval ?? 1000;
    this.log = options.log;
    this.view = new FleetView(etcd, options.log);
    let seen = false;
    etcd.onConnection((connected) => {
      if (connected && !seen) this.log.info({ instance: this.origin }, 'etcd connected');
      else if (connected && this.synced)
        this.log.warn({ instance: this.origin }, 'etcd reachable again: following its changes from where the watch stopped (etcd wins)');
      else if (connected) this.log.warn({ instance: this.origin }, 'etcd reachable: catching up with its state');
      else this.log.error({ instance: this.origin }, 'etcd unreachable: serving the last known state; mutations answer 503 STORE_UNAVAILABLE');
      seen = true;
    });
  }

  /** True while etcd answers (switchyard_store_connected). */
  get connected(): boolean {
    return this.etcd.connected === true;
  }

  /** Reads etcd (seeding what it lacks), or the cache file when etcd cannot be reached. */
  async loadServices(config: Config): Promise<ReadonlyMap<string, VersionedState>> {
    try {
      const snapshot = await this.etcd.loadAll();
      const services = await this.view.adopt(snapshot, config);
      this.synced = true;
      this.loaded = snapshot;
      return services;
    } catch (err) {
      if (!unavailable(err)) throw err;
      this.log.error(
        { err: (err as Error).message },
        'etcd is unreachable at start: serving the last known state from the cache file; mutations answer 503 until etcd is back',
      );
      let cached: Awaited<ReturnType<EtcdStateStore['loadCache']>>;
      try {
        cached = await this.etcd.loadCache();
      } catch (cacheErr) {
        // Only a cache: etcd replaces it once reachable, so serving the config meanwhile beats not serving.
        this.log.error({ err: (cacheErr as Error).message }, 'the state cache file is unusable; serving the config until etcd is back');
      }
      return new Map(Object.entries(cached?.services ?? {}).map(([name, state]) => [name, { state, version: 0 }]));
    }
  }

  /** Commits one service's change if etcd still holds the version it was computed from. */
  async commit(change: StoreCommit): Promise<number> {
    if (!this.synced)
      throw new SwitchyardError('STORE_UNAVAILABLE', 'etcd has not been reachable since start: the cached state is served, changes wait for etcd');
    try {
      const stored = await this.etcd.put(change.service, change.state, change.version, change.event);
      this.view.set(change.service, versioned(stored));
      return stored.modRevision;
    } catch (err) {
      if (!(err instanceof StoreConflictError)) throw err;
      const current = err.current && versioned(err.current);
      if (current) this.view.set(change.service, current);
      throw new StoreConflict(change.service, change.version, current);
    }
  }

  /** Publishes the revision this instance now serves (what `?wait=all` waits for). */
  applied(version: number): void {
    this.served = Math.max(this.served, version);
    if (!this.registered) return;
    this.etcd.publishGeneration(version).catch((err: unknown) => {
      // The heartbeat publishes it again; an outage is reported once, by onConnection.
      if (!unavailable(err)) this.log.warn({ err }, 'publishing the applied revision failed');
    });
  }

  /** Resolves once every live member serves `version`; FLEET_LAGGING (504, naming them) after wait_timeout. */
  async waitForFleet(version: number): Promise<void> {
    await this.etcd.waitForGeneration(version, this.waitTimeout);
  }

  /** The newest state seen in etcd of a service (one a reload adds picks it up). */
  known(service: string): VersionedState | undefined {
    return this.view.get(service);
  }

  /** The live members (GET /v1/fleet). */
  members(): Promise<FleetMember[]> {
    return this.etcd.members();
  }

  /** CertificateReplica: an upload is committed to etcd before it is installed here. */
  async put(name: string, certPem: string, keyPem: string, source: StoredCert['source']): Promise<void> {
    await this.etcd.putCert(name, certPem, keyPem, source);
  }

  /** CertificateReplica: a removal is committed to etcd before the files go here. */
  async delete(name: string): Promise<void> {
    await this.etcd.deleteCert(name);
  }

  /**
   * Starts following etcd: installs the certificates read at start, then watches from the
   * revision after that read; after a start without etcd, keeps trying in the background
   * and catches up when it answers. Resolves once the certificates are in.
   */
  async follow(sinks: FleetSinks): Promise<void> {
    this.sinks = sinks;
    const loaded = this.loaded;
    this.loaded = undefined;
    if (!loaded) {
      this.scheduleCatchUp();
      return;
    }
    await installCerts(sinks, loaded.certs);
    this.served = Math.max(this.served, loaded.revision);
    this.startWatch(loaded.revision);
  }

  /** Registers this instance under members/<id> (now, or once etcd is reached); `address` is its admin URL. */
  async join(address: string): Promise<void> {
    this.address = address;
    if (this.synced) await this.register();
  }

  /** ACME across the fleet: the order lock, the shared http-01 tokens and the stored certificates (made once, closed with the store). */
  acmeFleet(): EtcdAcmeCoordinator {
    this.acme ??= new EtcdAcmeCoordinator(this.etcd.etcdClient, this.etcd.layout, this.origin, this.log);
    return this.acme;
  }

  /** Lease locks under `<prefix>locks/<kind>/` taken as this instance (a rollout's driver holds `locks/rollout/<service>`). */
  leaseLocks(kind: string, what: string): LeaseLocks {
    return new LeaseLocks(this.etcd.etcdClient, `${this.etcd.layout.prefix}locks/${kind}/`, this.origin, this.log, what);
  }

  /** Stops following, leaves the fleet (revokes the member lease) and closes the connections. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.acme?.close();
    await this.watch?.close();
    await this.etcd.close();
  }

  private startWatch(revision: number): void {
    this.watch = this.etcd.watch(revision + 1, (change) => void this.onChange(change));
  }

  /** One change from the watch: applied here, then its revision published. Deliveries keep their order through the sinks' queues. */
  private async onChange(change: StoreChange): Promise<void> {
    const sinks = this.sinks;
    if (!sinks) return;
    try {
      const revision = await applyChange(change, sinks, this.view, this.log);
      if (revision !== undefined) this.applied(revision);
    } catch (err) {
      this.log.error({ err }, 'applying a change from etcd failed');
    }
  }

  private scheduleCatchUp(): void {
    if (this.closed) return;
    this.retry = setTimeout(() => void this.catchUp(), this.retryInterval);
    this.retry.unref();
  }

  /** After a start without etcd: read it all, apply it (etcd wins), then follow and register. */
  private async catchUp(): Promise<void> {
    const sinks = this.sinks;
    if (this.closed || !sinks) return;
    let snapshot: StoreSnapshot;
    let services: Map<string, VersionedState>;
    try {
      snapshot = await this.etcd.loadAll();
      services = await this.view.adopt(snapshot, sinks.config());
    } catch (err) {
      if (!unavailable(err)) this.log.error({ err }, 'reading etcd failed; trying again');
      this.scheduleCatchUp();
      return;
    }
    if (this.closed) return;
    await sinks.services(services, true);
    await installCerts(sinks, snapshot.certs);
    this.synced = true;
    this.served = Math.max(this.served, snapshot.revision);
    this.startWatch(snapshot.revision);
    this.log.warn(
      { revision: snapshot.revision, services: services.size },
      'etcd reachable: caught up with its state (etcd wins); mutations are accepted again',
    );
    if (this.address !== undefined) await this.register();
  }

  private async register(): Promise<void> {
    if (this.registered || this.address === undefined) return;
    this.registered = true;
    try {
      await this.etcd.register(this.address, this.served);
    } catch (err) {
      // The member's heartbeat keeps trying; the outage itself is logged by onConnection.
      if (!unavailable(err)) this.log.warn({ err }, 'fleet registration failed; retrying with the heartbeat');
    }
  }
}
