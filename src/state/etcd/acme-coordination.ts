import type { Logger } from 'pino';
import type { AcmeFleet, AcmeLock, SharedCertificate, SharedChallenge } from '../../acme/fleet.js';
import { type EtcdClient, EtcdError } from './client.js';
import { decode, encode, type KeyLayout, parseCert, type RangeAnswer, rangeEnd, type TxnAnswer } from './records.js';
import { PrefixWatch } from './watch.js';

/** Lease TTL of an order lock (seconds): a crashed orderer's lock frees itself after this. */
export const ACME_LOCK_TTL_SECONDS = 10;
/** Lease TTL of a challenge token (seconds): longer than any order, gone if the orderer dies. */
const CHALLENGE_TTL_SECONDS = 600;
/** Longest wait for this instance's watch to deliver its own token (a stalled watch must not hold an order and its lock for ever). */
const DELIVERY_WAIT_MS = 5_000;

interface KeepAliveAnswer {
  result?: { TTL?: string };
}

function escapeName(name: string): string {
  return name.replaceAll('%', '%25').replaceAll('/', '%2F');
}

/**
 * ACME across a fleet sharing etcd (SPEC §12): the order lock of a certificate is
 * `<prefix>locks/acme/<name>`, created only when absent (a txn on create_revision 0) and
 * attached to a lease kept alive every TTL/3 while the order runs; a lease that cannot be
 * renewed aborts the order. http-01 tokens are `<prefix>acme/challenges/<token>` with a
 * lease of their own, watched by every instance.
 */
export class EtcdAcmeCoordinator implements AcmeFleet {
  private readonly locks: string;
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
    private readonly lockTtl = ACME_LOCK_TTL_SECONDS,
  ) {
    this.locks = `${layout.prefix}locks/acme/`;
    this.challenges = `${layout.prefix}acme/challenges/`;
  }

  /** Takes the order lock of `name`, or undefined when another instance holds it. */
  async lock(name: string): Promise<AcmeLock | undefined> {
    const granted = await this.client.call<{ ID?: string }>('/v3/lease/grant', { TTL: this.lockTtl });
    const lease = granted.ID;
    if (!lease) throw new Error('etcd granted no lease id');
    const key = encode(`${this.locks}${escapeName(name)}`);
    const value = encode(JSON.stringify({ owner: this.instanceId, time: new Date().toISOString() }));
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
      await this.revoke(lease);
      throw err;
    }
    if (!answer.succeeded) {
      await this.revoke(lease);
      return undefined;
    }
    const controller = new AbortController();
    let lastRenewed = Date.now();
    const lose = (reason: string) => {
      if (controller.signal.aborted) return;
      clearInterval(timer);
      this.log.error({ certificate: name, lease, reason }, 'ACME order lock lost');
      controller.abort(new Error(`the ACME order lock of "${name}" was lost (${reason})`));
    };
    const timer = setInterval(
      () => {
        this.client.call<KeepAliveAnswer>('/v3/lease/keepalive', { ID: lease }).then(
          (kept) => {
            if (Number(kept.result?.TTL ?? 0) <= 0) lose('its lease expired');
            else lastRenewed = Date.now();
          },
          (err: unknown) => {
            if (Date.now() - lastRenewed >= this.lockTtl * 1000) lose(`etcd did not renew its lease: ${(err as Error).message}`);
          },
        );
      },
      (this.lockTtl * 1000) / 3,
    );
    timer.unref();
    return {
      signal: controller.signal,
      release: async () => {
        clearInterval(timer);
        // Revoking the lease deletes the key with it.
        await this.revoke(lease);
      },
    };
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
      const granted = await this.client.call<{ ID?: string }>('/v3/lease/grant', { TTL: CHALLENGE_TTL_SECONDS });
      if (!granted.ID) throw new Error('etcd granted no lease id');
      this.leases.set(token, granted.ID);
      const value = { host, key_authorization: keyAuthorization, owner: this.instanceId };
      await this.client.call('/v3/kv/put', { key: encode(this.challengeKey(token)), value: encode(JSON.stringify(value)), lease: granted.ID }, 'once');
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

  private async revoke(lease: string): Promise<void> {
    try {
      await this.client.call('/v3/lease/revoke', { ID: lease });
    } catch (err) {
      // NOT_FOUND: it expired already. Otherwise the lease expires on its own within the TTL.
      if (!(err instanceof EtcdError && err.grpcCode === 5))
        this.log.warn({ lease, err: (err as Error).message }, 'ACME lease not revoked; it expires on its own');
    }
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
