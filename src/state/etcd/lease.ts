/**
 * The etcd v3 lease calls every lease user shares (the lock of lease-lock.ts, the member
 * key of members.ts, ACME's challenge tokens): grant, renew, revoke.
 */
import type { Logger } from 'pino';
import { type EtcdClient, EtcdError } from './client.js';

/** Grants a lease of `ttl` seconds; resolves with its id (a decimal string: etcd lease ids exceed 2^53). */
export async function grantLease(client: EtcdClient, ttl: number): Promise<string> {
  const granted = await client.call<{ ID?: string }>('/v3/lease/grant', { TTL: ttl });
  if (!granted.ID) throw new Error('etcd granted no lease id');
  return granted.ID;
}

/** Renews a lease once; resolves with the seconds it has left, 0 when it expired or was revoked. */
export async function renewLease(client: EtcdClient, lease: string): Promise<number> {
  const kept = await client.call<{ result?: { TTL?: string } }>('/v3/lease/keepalive', { ID: lease });
  return Number(kept.result?.TTL ?? 0);
}

/** Revokes a lease (its keys go with it); never throws: a lease not revoked expires on its own. */
export async function revokeLease(client: EtcdClient, lease: string, log: Logger): Promise<void> {
  try {
    await client.call('/v3/lease/revoke', { ID: lease });
  } catch (err) {
    // NOT_FOUND: it expired already. Otherwise the lease expires on its own within the TTL.
    if (!(err instanceof EtcdError && err.grpcCode === 5)) log.warn({ lease, err: (err as Error).message }, 'etcd lease not revoked; it expires on its own');
  }
}
