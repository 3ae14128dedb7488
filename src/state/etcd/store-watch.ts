import type { EtcdClient } from './client.js';
import type { FleetMember, StoredCert, StoredService } from './records.js';
import { encode } from './records.js';
import { type KvEvent, PrefixWatch } from './watch.js';
import type { WriteGate } from './write-gate.js';

/** Everything under the prefix at one revision (members excluded). */
export interface StoreSnapshot {
  /** The etcd revision of this read: watch from revision + 1. */
  readonly revision: number;
  readonly services: ReadonlyMap<string, StoredService>;
  readonly certs: ReadonlyMap<string, StoredCert>;
}

/** One change seen through the watch; `value` undefined means the key was deleted. */
export type StoreChange =
  | { readonly kind: 'service'; readonly name: string; readonly value: StoredService | undefined; readonly revision: number }
  | { readonly kind: 'cert'; readonly name: string; readonly value: StoredCert | undefined; readonly revision: number }
  | { readonly kind: 'member'; readonly id: string; readonly value: FleetMember | undefined; readonly revision: number }
  /** The watch fell behind etcd's compaction: this full snapshot replaces everything (etcd wins). */
  | { readonly kind: 'reload'; readonly snapshot: StoreSnapshot; readonly compactRevision: number };

/** What the store lends its watch. */
export interface StoreWatchDeps {
  readonly client: EtcdClient;
  readonly prefix: string;
  /** Turns a key event into a change, updating the store's mirror; undefined for duplicates and foreign keys. */
  readonly ingest: (event: KvEvent) => StoreChange | undefined;
  /** Holds deliveries while the store's own writes are in flight. */
  readonly gate: WriteGate;
  /** A full read (also resets the store's mirror). */
  readonly load: () => Promise<StoreSnapshot>;
  /** How often reachability is probed with a linearizable read (ms). */
  readonly probeInterval: number;
  readonly onError: (err: unknown) => void;
}

/**
 * The store's watch: a PrefixWatch plus what makes it safe to rely on: a periodic
 * linearizable probe (a watch on a member that lost quorum or hangs stays silent, so the
 * probe failing moves it to another member), and a full reload after compaction.
 */
export class StoreWatch {
  private watch: PrefixWatch;
  private closed = false;
  private probeTimer: NodeJS.Timeout | undefined;
  private readonly deps: StoreWatchDeps;
  private readonly onChange: (change: StoreChange) => void;

  constructor(deps: StoreWatchDeps, fromRevision: number, onChange: (change: StoreChange) => void) {
    this.deps = deps;
    this.onChange = onChange;
    this.watch = this.start(fromRevision);
    this.scheduleProbe();
  }

  /** The last revision delivered. */
  get revision(): number {
    return this.watch.revision;
  }

  /** Whether the stream is open and confirmed by etcd. */
  get open(): boolean {
    return this.watch.open;
  }

  /** Stops watching and probing. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.probeTimer);
    await this.watch.close();
  }

  private start(from: number): PrefixWatch {
    return new PrefixWatch(this.deps.client, this.deps.prefix, from, {
      onEvents: (events) =>
        this.deps.gate.deliver(() => {
          for (const event of events) {
            const change = this.deps.ingest(event);
            if (change) this.emit(change);
          }
        }),
      onCompacted: (compactRevision) => void this.reload(compactRevision),
      onError: this.deps.onError,
    });
  }

  private async reload(compactRevision: number): Promise<void> {
    let delay = 100;
    while (!this.closed) {
      try {
        const snapshot = await this.deps.load();
        if (this.closed) return;
        this.deps.gate.deliver(() => this.emit({ kind: 'reload', snapshot, compactRevision }));
        this.watch = this.start(snapshot.revision + 1);
        return;
      } catch (err) {
        this.deps.onError(err);
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, 1000);
      }
    }
  }

  private emit(change: StoreChange): void {
    try {
      this.onChange(change);
    } catch (err) {
      this.deps.onError(err);
    }
  }

  private scheduleProbe(): void {
    if (this.closed) return;
    this.probeTimer = setTimeout(() => void this.probe(), this.deps.probeInterval);
    this.probeTimer.unref();
  }

  private async probe(): Promise<void> {
    try {
      // Linearizable (the default): only a member that is part of a quorum answers.
      await this.deps.client.call('/v3/kv/range', { key: encode(this.deps.prefix), count_only: true });
    } catch {
      if (this.watch.open) this.watch.reconnect();
    }
    this.scheduleProbe();
  }
}
