/**
 * Which instance of a fleet drives a service's rollout: the one holding the lease lock
 * `<prefix>locks/rollout/<service>` (state/etcd/lease-lock.ts). Apart from the driver, which
 * decides what a pass does, so the taking, the retrying and the losing sit in one place.
 * Without a fleet there is no lock and this instance always drives.
 */
import type { Logger } from 'pino';
import { messageOf } from '../errors.js';
import type { HeldLease } from '../state/etcd/lease-lock.js';

/** How long an instance that did not get a rollout's lock waits before trying again: half the lease TTL, as ACME's LOCK_RETRY_MS. */
export const LOCK_RETRY_MS = 5_000;

/** Takes the lock of a service's rollout: undefined when another instance holds it; throws when the store does not answer. */
export interface RolloutLocks {
  take(service: string): Promise<HeldLease | undefined>;
}

/** What a DriveLock calls back. */
interface DriveLockHooks {
  /** The lock was taken, or it is time to try again: look at the record. */
  readonly kick: () => void;
  /** The lock was lost (its lease could not be renewed): drop every wait and call in flight. */
  readonly lost: () => void;
}

/**
 * One service's lock as its driver sees it: `claim()` says whether this instance may drive
 * now and, when it may not, tries for the lock (at once, then every LOCK_RETRY_MS, each try
 * a kick); a lost lock stops the driving and the trying starts again; `release()` when the
 * rollout ended.
 */
export class DriveLock {
  private held: HeldLease | undefined;
  private taking = false;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  /** A try failed on an error (etcd unreachable): logged once until one succeeds. */
  private failing = false;

  constructor(
    private readonly service: string,
    private readonly locks: RolloutLocks | undefined,
    private readonly log: Logger,
    private readonly hooks: DriveLockHooks,
  ) {}

  /** True when this instance may drive now (always without a fleet); otherwise tries for the lock unless a try is under way or due. */
  claim(): boolean {
    if (this.locks === undefined || this.held !== undefined) return true;
    if (!this.taking && this.retry === undefined && !this.stopped) void this.attempt(this.locks);
    return false;
  }

  /** One try now, awaited, with no kick (the instance that starts a rollout takes its lock before writing it; a pass now would see no rollout and let go). */
  async takeFirst(): Promise<void> {
    if (this.locks === undefined || this.held !== undefined || this.taking || this.stopped) return;
    clearTimeout(this.retry);
    this.retry = undefined;
    await this.attempt(this.locks, false);
  }

  /** Gives the lock up and stops trying (the rollout completed or aborted). */
  release(): void {
    clearTimeout(this.retry);
    this.retry = undefined;
    const held = this.held;
    this.held = undefined;
    if (held !== undefined) void held.release();
  }

  /** Releases for good (shutdown, or the service is gone). */
  stop(): void {
    this.stopped = true;
    this.release();
  }

  /** Tries for the lock; taken, kicks (unless `kick` is false), else kicks again after LOCK_RETRY_MS. */
  private async attempt(locks: RolloutLocks, kick = true): Promise<void> {
    this.taking = true;
    let lock: HeldLease | undefined;
    try {
      lock = await locks.take(this.service);
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.log.warn({ service: this.service, err: messageOf(err) }, 'rollout lock not taken; trying again every 5 s');
      this.failing = true;
    } finally {
      this.taking = false;
    }
    if (this.stopped) {
      await lock?.release();
      return;
    }
    if (lock === undefined) {
      this.later();
      return;
    }
    this.held = lock;
    lock.signal.addEventListener(
      'abort',
      () => {
        if (this.held !== lock) return;
        this.held = undefined;
        this.hooks.lost();
        this.later();
      },
      { once: true },
    );
    if (kick) this.hooks.kick();
  }

  /** Kicks after LOCK_RETRY_MS, when the pass tries again if the rollout still needs driving. */
  private later(): void {
    if (this.stopped) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.hooks.kick();
    }, LOCK_RETRY_MS);
    this.retry.unref();
  }
}
