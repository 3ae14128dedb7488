/**
 * One lock per name across a fleet sharing etcd, for work exactly one instance must do at
 * a time: an ACME order (`<prefix>locks/acme/<name>`), driving a rollout
 * (`<prefix>locks/rollout/<service>`). Apart from its users so there is one copy of the
 * lease handling: create-if-absent, keep-alive, loss, release.
 */
import type { Logger } from 'pino';
import type { EtcdClient } from './client.js';
import { grantLease, renewLease, revokeLease } from './lease.js';
import { encode, escapeName, type TxnAnswer } from './records.js';

/** Lease TTL of a lock (seconds): a crashed holder's lock frees itself after this. */
export const LOCK_TTL_SECONDS = 10;

/** A lock this instance holds; `signal` aborts when it is lost (its lease expired or could not be renewed). */
export interface HeldLease {
  readonly signal: AbortSignal;
  /** Gives the lock up (revokes the lease, which deletes the key); never throws. */
  release(): Promise<void>;
}

/**
 * The locks under one directory (`<prefix>locks/<kind>/`): a lock is a key created only
 * when absent (a txn on create_revision 0), `{"owner","time"}`, attached to a lease of
 * its own kept alive every TTL/3; a lease not renewed within the TTL counts as lost.
 */
export class LeaseLocks {
  constructor(
    private readonly client: EtcdClient,
    /** The directory, ending in "/". */
    private readonly dir: string,
    private readonly owner: string,
    private readonly log: Logger,
    /** What a lock is, for the log ("ACME order lock"). */
    private readonly what: string,
    private readonly ttl = LOCK_TTL_SECONDS,
  ) {}

  /** Takes the lock of `name`, or undefined when another instance holds it; throws when etcd does not answer. */
  async take(name: string): Promise<HeldLease | undefined> {
    const lease = await grantLease(this.client, this.ttl);
    const key = encode(`${this.dir}${escapeName(name)}`);
    const value = encode(JSON.stringify({ owner: this.owner, time: new Date().toISOString() }));
    let answer: TxnAnswer;
    try {
      answer = await this.client.call<TxnAnswer>(
        '/v3/kv/txn',
        {
          compare: [{ key, target: 'CREATE', result: 'EQUAL', create_revision: '0' }],
          success: [{ request_put: { key, value, lease } }],
          failure: [],
        },
        'once',
      );
    } catch (err) {
      await revokeLease(this.client, lease, this.log);
      throw err;
    }
    if (!answer.succeeded) {
      await revokeLease(this.client, lease, this.log);
      return undefined;
    }
    return this.keepAlive(name, lease);
  }

  /** Renews `lease` every TTL/3 until released; aborts the signal once it cannot be renewed. */
  private keepAlive(name: string, lease: string): HeldLease {
    const controller = new AbortController();
    let lastRenewed = Date.now();
    const lose = (reason: string) => {
      if (controller.signal.aborted) return;
      clearInterval(timer);
      this.log.error({ lock: `${this.dir}${name}`, lease, reason }, `${this.what} lost`);
      controller.abort(new Error(`the ${this.what} of "${name}" was lost (${reason})`));
    };
    const timer = setInterval(
      () => {
        renewLease(this.client, lease).then(
          (left) => {
            if (left <= 0) lose('its lease expired');
            else lastRenewed = Date.now();
          },
          (err: unknown) => {
            if (Date.now() - lastRenewed >= this.ttl * 1000) lose(`etcd did not renew its lease: ${(err as Error).message}`);
          },
        );
      },
      (this.ttl * 1000) / 3,
    );
    timer.unref();
    return {
      signal: controller.signal,
      release: async () => {
        clearInterval(timer);
        // Revoking the lease deletes the key with it.
        await revokeLease(this.client, lease, this.log);
      },
    };
  }
}
