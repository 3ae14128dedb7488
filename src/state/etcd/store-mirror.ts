import type { Logger } from 'pino';
import type { PersistedState } from '../stored-state.js';
import { StateCache } from './cache.js';
import {
  decode,
  type KeyLayout,
  parseCert,
  parseMember,
  parseService,
  type RangeAnswer,
  type StoredCert,
  type StoredService,
  type TxnAnswer,
} from './records.js';
import type { StoreChange, StoreSnapshot } from './store-watch.js';
import type { KvEvent } from './watch.js';

/**
 * What an etcd store has seen of its prefix: the highest mod revision of each key, so a
 * watch event at or below it (above all the store's own write coming back) is dropped and
 * a change is reported once; the local cache file of the services' state; and the decoding
 * of values, where one that is not readable is logged and left out. Apart from the store,
 * which only talks to etcd and hands what comes back to this mirror.
 */
export class StoreMirror {
  private readonly layout: KeyLayout;
  private readonly cache: StateCache | undefined;
  private readonly log: Logger | undefined;
  /** Highest mod revision seen per key: watch events at or below it are duplicates. */
  private readonly known = new Map<string, number>();

  constructor(layout: KeyLayout, cachePath: string | undefined, log: Logger | undefined) {
    this.layout = layout;
    this.log = log;
    this.cache = cachePath ? new StateCache(cachePath, (err) => this.log?.error({ err }, 'state cache write failed')) : undefined;
  }

  /** A full read of the prefix: replaces everything known and the cache's services. */
  snapshot(answer: RangeAnswer): StoreSnapshot {
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

  /** The certificates of a read of the certs directory (nothing is remembered). */
  certs(answer: RangeAnswer): Map<string, StoredCert> {
    const certs = new Map<string, StoredCert>();
    for (const kv of answer.kvs ?? []) {
      const key = decode(kv.key);
      const item = this.layout.parse(key);
      const value = item && this.parseCert(key, decode(kv.value), Number(kv.mod_revision ?? 0));
      if (item && value) certs.set(item.name, value);
    }
    return certs;
  }

  /** What a failed txn read back of a service key (its first response), or undefined when the key is absent. */
  fromRange(key: string, answer: TxnAnswer): StoredService | undefined {
    const kv = answer.responses?.[0]?.response_range?.kvs?.[0];
    return kv ? this.parseService(key, decode(kv.value), Number(kv.mod_revision ?? 0)) : undefined;
  }

  /** A service value the store wrote or read back: remembered (its watch event is dropped) and cached. */
  service(name: string, key: string, stored: StoredService): void {
    this.remember(key, stored.modRevision);
    this.cache?.set(name, stored.state);
  }

  /** Notes that `key` is at `modRevision` or later (a write of this store's own). */
  remember(key: string, modRevision: number): void {
    if ((this.known.get(key) ?? 0) < modRevision) this.known.set(key, modRevision);
  }

  /** Turns a watch event into a change, or undefined for a duplicate, a foreign key or an unreadable value. */
  ingest(event: KvEvent): StoreChange | undefined {
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

  /** The cached state (for a start while etcd is unreachable), or undefined. */
  async loadCache(): Promise<PersistedState | undefined> {
    return this.cache?.load();
  }

  /** Resolves when the cache file holds everything seen so far. */
  async flushCache(): Promise<void> {
    await this.cache?.flush();
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
