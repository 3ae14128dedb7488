/** Largest renewal jitter: a day, however long renew_before is. */
export const MAX_JITTER_MS = 86_400_000;
/** First retry after a failed order; each further failure doubles it. */
export const RETRY_BASE_MS = 60_000;
/** Longest wait between two tries of a failing order. */
export const RETRY_MAX_MS = 6 * 3_600_000;
/** With the etcd store, how soon an instance that found another one ordering tries the lock again (half the lock's lease TTL). */
export const LOCK_RETRY_MS = 5_000;
/** setTimeout's largest delay (2^31 - 1 ms, ~24.8 days); longer waits are re-armed. */
export const MAX_TIMER_MS = 2_147_483_647;

/** What decides when a certificate is renewed. */
export interface RenewalInput {
  readonly notBefore: number;
  readonly notAfter: number;
  /** `acme.renew_before`, ms. */
  readonly renewBefore: number;
  /** `acme.min_renew_interval`, ms. */
  readonly minInterval: number;
  /** When this process last installed it, if it did (epoch ms). */
  readonly lastIssuedAt: number | undefined;
  /** A random number in [0, 1). */
  readonly random: number;
}

/**
 * When to renew (epoch ms): `renew_before` ahead of expiry, less a random jitter of up to a
 * tenth of `renew_before` (at most MAX_JITTER_MS) so certificates issued together do not
 * renew together; but never sooner than `min_renew_interval` after the certificate was
 * issued, so a renew_before covering the whole lifetime cannot order in a loop.
 */
export function renewalTime(input: RenewalInput): number {
  const jitter = Math.floor(input.random * Math.min(input.renewBefore / 10, MAX_JITTER_MS));
  const due = input.notAfter - input.renewBefore - jitter;
  const floor = Math.max(input.notBefore, input.lastIssuedAt ?? input.notBefore) + input.minInterval;
  return Math.max(due, floor);
}

/**
 * Wait before the next try after `failures` consecutive failed orders (1 = the first):
 * exponential from RETRY_BASE_MS, capped at RETRY_MAX_MS, with up to 10 % random extra so
 * a fleet that failed together does not retry together.
 */
export function retryDelay(failures: number, random: number): number {
  const base = Math.min(RETRY_BASE_MS * 2 ** Math.max(0, failures - 1), RETRY_MAX_MS);
  return Math.round(base * (1 + random / 10));
}
