import type { EtcdClient } from './client.js';
import { decode, encode, rangeEnd } from './records.js';

/** One key change from a watch. */
export interface KvEvent {
  readonly type: 'put' | 'delete';
  readonly key: string;
  /** The new value (empty for a delete). */
  readonly value: string;
  /** The revision of the change. */
  readonly modRevision: number;
}

/** What a PrefixWatch reports. */
export interface PrefixWatchHandlers {
  /** Changes in revision order; every revision after the start arrives exactly once. */
  onEvents(events: readonly KvEvent[]): void;
  /** The next revision was compacted away; the watch has stopped and the caller must reload. */
  onCompacted(compactRevision: number): void;
  /** A handler threw; the watch goes on. */
  onError?(err: unknown): void;
}

interface WatchKv {
  key?: string;
  value?: string;
  mod_revision?: string;
}

interface WatchResult {
  header?: { revision?: string };
  created?: boolean;
  canceled?: boolean;
  cancel_reason?: string;
  compact_revision?: string;
  events?: { type?: string; kv?: WatchKv }[];
}

/** Longest pause between two attempts to re-open the stream (ms). */
const MAX_RETRY_DELAY = 1000;

/**
 * A watch on every key under a prefix that survives etcd restarts and member loss: it
 * remembers the next revision it needs and re-opens the stream from there (on the next
 * endpoint), so no revision is missed; a compacted revision is reported, never skipped.
 */
export class PrefixWatch {
  private next: number;
  private closed = false;
  private stream: AbortController | undefined;
  private established = false;
  private readonly client: EtcdClient;
  private readonly prefix: string;
  private readonly handlers: PrefixWatchHandlers;
  private wake: (() => void) | undefined;
  private failure: string | undefined;
  /** Resolves when the loop has ended (after close or compaction). */
  readonly done: Promise<void>;

  constructor(client: EtcdClient, prefix: string, fromRevision: number, handlers: PrefixWatchHandlers) {
    this.client = client;
    this.prefix = prefix;
    this.next = fromRevision;
    this.handlers = handlers;
    this.done = this.run();
  }

  /** The last revision delivered (or skipped as not ours): the watch resumes after it. */
  get revision(): number {
    return this.next - 1;
  }

  /** Whether the stream is open and etcd confirmed the watch. */
  get open(): boolean {
    return this.established;
  }

  /** Why the stream last failed to open (for logs). */
  get lastError(): string | undefined {
    return this.failure;
  }

  /** Drops the current stream and opens a new one (on the next endpoint); nothing is missed. */
  reconnect(): void {
    this.established = false;
    this.client.rotate();
    this.stream?.abort();
    this.wake?.();
  }

  /** Stops watching. */
  close(): Promise<void> {
    this.closed = true;
    this.stream?.abort();
    this.wake?.();
    return this.done;
  }

  private async run(): Promise<void> {
    let delay = 50;
    while (!this.closed) {
      const controller = new AbortController();
      this.stream = controller;
      let failure: unknown;
      try {
        const request = {
          create_request: { key: encode(this.prefix), range_end: rangeEnd(this.prefix), start_revision: String(this.next), progress_notify: true },
        };
        for await (const message of this.client.stream('/v3/watch', request, controller.signal)) {
          if (message.error !== undefined) throw new Error(`etcd watch error: ${JSON.stringify(message.error)}`);
          const result = (message.result ?? {}) as WatchResult;
          if (this.handle(result)) {
            controller.abort();
            return;
          }
          delay = 50;
        }
        failure = new Error('the watch stream ended');
      } catch (err) {
        failure = err;
      }
      if (this.closed) break;
      // An open stream that ends (member restarted or lost its leader) is re-opened at
      // once; failing to open one means etcd is unreachable.
      const wasOpen = this.established;
      this.established = false;
      if (controller.signal.aborted) continue;
      if (wasOpen) {
        this.client.rotate();
        continue;
      }
      this.client.noteConnected(false);
      this.failure = failure instanceof Error ? failure.message : String(failure);
      await this.pause(delay);
      delay = Math.min(delay * 2, MAX_RETRY_DELAY);
    }
  }

  /** Handles one watch response; true when the watch must stop. */
  private handle(result: WatchResult): boolean {
    if (result.canceled) {
      const compacted = Number(result.compact_revision ?? 0);
      if (compacted > 0) {
        this.closed = true;
        this.established = false;
        this.guard(() => this.handlers.onCompacted(compacted));
        return true;
      }
      const reason = result.cancel_reason ?? 'canceled';
      // A token etcd no longer knows (member restarted, token TTL): authenticate again.
      if (/auth|user name/i.test(reason)) this.client.dropToken();
      throw new Error(`etcd canceled the watch: ${reason}`);
    }
    if (result.created) {
      this.established = true;
      this.client.noteConnected(true);
      return false;
    }
    const raw = result.events ?? [];
    if (raw.length === 0) {
      // A progress notification: everything up to this revision has been sent.
      const revision = Number(result.header?.revision ?? 0);
      if (revision >= this.next) this.next = revision + 1;
      return false;
    }
    const events: KvEvent[] = raw.map((event) => ({
      type: event.type === 'DELETE' ? 'delete' : 'put',
      key: decode(event.kv?.key),
      value: decode(event.kv?.value),
      modRevision: Number(event.kv?.mod_revision ?? 0),
    }));
    const last = events.at(-1)?.modRevision ?? 0;
    if (last >= this.next) this.next = last + 1;
    this.guard(() => this.handlers.onEvents(events));
    return false;
  }

  private guard(work: () => void): void {
    try {
      work();
    } catch (err) {
      this.handlers.onError?.(err);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
