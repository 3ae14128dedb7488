import type { Logger } from 'pino';
import type { AcmeFleet, AcmeLock, SharedCertificate, SharedChallenge } from '../../acme/fleet.js';
import type { EtcdClient } from './client.js';
import { grantLease, revokeLease } from './lease.js';
import { LeaseLocks, LOCK_TTL_SECONDS } from './lease-lock.js';
import { decode, encode, escapeName, type KeyLayout, parseCert, type RangeAnswer, rangeEnd } from './records.js';
import { PrefixWatch } from './watch.js';

/** Lease TTL of an order lock (seconds): a crashed orderer's lock frees itself after this. */
export const ACME_LOCK_TTL_SECONDS = LOCK_TTL_SECONDS;
/** Lease TTL of a challenge token (seconds): longer than any order, gone if the orderer dies. */
const CHALLENGE_TTL_SECONDS = 600;
/** Longest wait for this instance's watch to deliver its own token (a stalled watch must not hold an order and its lock for ever). */
const DELIVERY_WAIT_MS = 5_000;

/**
 * ACME across a fleet sharing etcd (SPEC §12): the order lock of a certificate is the
 * lease lock `<prefix>locks/acme/<name>` (lease-lock.ts), held while the order runs; a
 * lease that cannot be renewed aborts the order. http-01 tokens are `<prefix>acme/challenges/<token>` with a
 * lease of their own, watched by every instance.
 */
export class EtcdAcmeCoordinator implements AcmeFleet {
  private readonly locks: LeaseLocks;
  private readonly challenges: string;
  private watch: PrefixWatch | undefined;
  /** Tokens this instance published, waiting for its watch to deliver them. */
  private readonly waiting = new Map<string, () => void>();
  /** The lease of each token this instance published: withdrawing revokes it (the key goes with it). */
  private readonly leases = new Map<string, string>();
  private closed = false;

  constructor(
    private readonly client: EtcdClient,
    private readonly layout: KeyLayout,
    private readonly instanceId: string,
    private readonly log: Logger,
    lockTtl = ACME_LOCK_TTL_SECONDS,
  ) {
    this.locks = new LeaseLocks(client, `${layout.prefix}locks/acme/`, instanceId, log, 'ACME order lock', lockTtl);
    this.challenges = `${layout.prefix}acme/challenges/`;
  }

  /** Takes the order lock of `name`, or undefined when another instance holds it. */
  lock(name: string): Promise<AcmeLock | undefined> {
    return this.locks.take(name);
  }

  /**
   * Stores a token with its own lease; resolves once this instance's watch delivered it
   * (committed and visible to watchers), at most DELIVERY_WAIT_MS after the commit. Not
   * following the tokens (etcd was down at start): once committed.
   */
  async publishChallenge({ token, host, keyAuthorization }: SharedChallenge): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const delivered = new Promise<void>((resolve) => {
      this.waiting.set(token, resolve);
      timer = setTimeout(() => {
        this.log.warn({ token, waited_ms: DELIVERY_WAIT_MS }, 'ACME challenge token stored in etcd but not yet seen by the watch; going on');
        resolve();
      }, DELIVERY_WAIT_MS);
    });
    try {
      const lease = await grantLease(this.client, CHALLENGE_TTL_SECONDS);
      this.leases.set(token, lease);
      const value = { host, key_authorization: keyAuthorization, owner: this.instanceId };
      await this.client.call('/v3/kv/put', { key: encode(this.challengeKey(token)), value: encode(JSON.stringify(value)), lease }, 'once');
      if (this.watch !== undefined) await delivered;
    } finally {
      clearTimeout(timer);
      this.waiting.delete(token);
    }
  }

  /** Deletes a token (its lease would drop it anyway); never throws. */
  async withdrawChallenge(token: string): Promise<void> {
    const lease = this.leases.get(token);
    this.leases.delete(token);
    if (lease !== undefined) return this.revoke(lease);
    try {
      await this.client.call('/v3/kv/deleterange', { key: encode(this.challengeKey(token)) }, 'once');
    } catch (err) {
      this.log.warn({ token, err: (err as Error).message }, 'ACME challenge token not deleted from etcd; its lease removes it');
    }
  }

  /** Reads every token, then follows the prefix from the revision after that read. */
  async followChallenges(onAdd: (challenge: SharedChallenge) => void, onRemove: (token: string) => void): Promise<void> {
    const answer = await this.client.call<RangeAnswer>('/v3/kv/range', { key: encode(this.challenges), range_end: rangeEnd(this.challenges) });
    const put = (key: string, text: string) => {
      const token = key.slice(this.challenges.length);
      const challenge = parseChallenge(token, text);
      if (challenge === undefined) {
        this.log.warn({ key }, 'etcd key holds no valid ACME challenge; ignored');
        return;
      }
      onAdd(challenge);
      this.waiting.get(token)?.();
    };
    for (const kv of answer.kvs ?? []) put(decode(kv.key), decode(kv.value));
    if (this.closed) return;
    this.watch = new PrefixWatch(this.client, this.challenges, Number(answer.header?.revision ?? 0) + 1, {
      onEvents: (events) => {
        for (const event of events) {
          if (event.type === 'put') put(event.key, event.value);
          else onRemove(event.key.slice(this.challenges.length));
        }
      },
      onCompacted: () => {
        // Tokens live minutes: after a compaction, read them all again and go on from there.
        this.watch = undefined;
        if (!this.closed) void this.followChallenges(onAdd, onRemove).catch((err: unknown) => this.log.error({ err }, 'following ACME challenges failed'));
      },
      onError: (err) => this.log.error({ err }, 'applying an ACME challenge from etcd failed'),
    });
  }

  /** The certificate `name` as etcd holds it. */
  async certificate(name: string): Promise<SharedCertificate | undefined> {
    const answer = await this.client.call<RangeAnswer>('/v3/kv/range', { key: encode(this.layout.key('certs', name)) });
    const kv = answer.kvs?.[0];
    const stored = kv && parseCert(decode(kv.value), Number(kv.mod_revision ?? 0));
    return stored && { cert: stored.cert, key: stored.key, origin: stored.origin, source: stored.source ?? 'uploaded' };
  }

  /** Stops following the tokens. */
  async close(): Promise<void> {
    this.closed = true;
    await this.watch?.close();
  }

  private challengeKey(token: string): string {
    return `${this.challenges}${escapeName(token)}`;
  }

  private revoke(lease: string): Promise<void> {
    return revokeLease(this.client, lease, this.log);
  }
}

/** A challenge value, or undefined when the JSON is not one. */
function parseChallenge(token: string, text: string): SharedChallenge | undefined {
  try {
    const value = JSON.parse(text) as { host?: unknown; key_authorization?: unknown };
    if (typeof value.host !== 'string' || typeof value.key_authorization !== 'string' || token === '' || token.includes('/')) return undefined;
    return { token, host: value.host, keyAuthorization: value.key_authorization };
  } catch {
    return undefined;
  }
}
