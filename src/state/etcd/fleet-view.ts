import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { initialState } from '../../routing/snapshot.js';
import type { VersionedState } from '../state-store.js';
import type { StoredService } from './records.js';
import type { EtcdStateStore } from './store.js';
import type { StoreSnapshot } from './store-watch.js';

/** A stored service as the controller takes it: etcd's mod revision is its version. */
export function versioned(stored: StoredService): VersionedState {
  return { state: stored.state, version: stored.modRevision, origin: stored.origin, event: stored.event };
}

/**
 * The fleet store's view of the services in etcd: the newest state seen of each, served
 * here or not (a reload that adds a service picks it up), and how a full read of etcd
 * becomes that view at start or after an outage: the configured services etcd lacks are
 * seeded, and where this config and etcd part is said in the log. Apart from the fleet
 * store, which decides when to read and what to do with what it finds.
 */
export class FleetView {
  private readonly etcd: EtcdStateStore;
  private readonly log: Logger;
  private readonly latest = new Map<string, VersionedState>();

  constructor(etcd: EtcdStateStore, log: Logger) {
    this.etcd = etcd;
    this.log = log;
  }

  /** The newest state seen of a service, or undefined when etcd holds none. */
  get(service: string): VersionedState | undefined {
    return this.latest.get(service);
  }

  /** Records the newest state of a service (undefined: etcd holds none any more). */
  set(service: string, value: VersionedState | undefined): void {
    if (value) this.latest.set(service, value);
    else this.latest.delete(service);
  }

  /** Replaces the whole view with what a full read of etcd holds; returns it as the controller takes it. */
  replace(stored: ReadonlyMap<string, StoredService>): Map<string, VersionedState> {
    const services = new Map([...stored].map(([name, value]) => [name, versioned(value)]));
    this.latest.clear();
    for (const [name, state] of services) this.latest.set(name, state);
    return services;
  }

  /** Seeds the configured services etcd lacks (create-if-absent: instances starting together agree), reports disagreements, then replaces the view. */
  async adopt(snapshot: StoreSnapshot, config: Config): Promise<Map<string, VersionedState>> {
    const missing = new Map(config.services.filter((s) => !snapshot.services.has(s.name)).map((s) => [s.name, initialState(s)]));
    const all = new Map(snapshot.services);
    if (missing.size > 0) {
      const seeded = await this.etcd.seedIfAbsent(missing);
      for (const [name, stored] of seeded.services) all.set(name, stored);
      if (seeded.seeded.length > 0) this.log.info({ services: seeded.seeded }, 'seeded etcd with the initial state of services it did not hold');
    }
    reportDifferences(config, all, this.log);
    return this.replace(all);
  }
}

/** Instances may run different YAML: each serves what it declares; say clearly where they part. */
function reportDifferences(config: Config, stored: ReadonlyMap<string, StoredService>, log: Logger): void {
  const declared = new Set(config.services.map((s) => s.name));
  const foreign = [...stored.keys()].filter((name) => !declared.has(name)).sort();
  if (foreign.length > 0) log.warn({ services: foreign }, `etcd holds services this config does not declare (not served here): ${foreign.join(', ')}`);
  for (const service of config.services) {
    const state = stored.get(service.name)?.state;
    if (!state) continue;
    const here = Object.keys(service.stacks).sort();
    const there = Object.keys(state.weights).sort();
    if (here.join() !== there.join()) {
      log.warn(
        { service: service.name, config: here, etcd: there },
        `service ${service.name}: stacks differ between this config (${here.join(', ')}) and etcd (${there.join(', ')}); serving the configured ones`,
      );
    }
  }
}
