import type { CertificateSource } from '../tls/cert-meta.js';

/** An http-01 token another instance (or this one) put in the fleet's store. */
export interface SharedChallenge {
  readonly token: string;
  readonly host: string;
  readonly keyAuthorization: string;
}

/** An order lock held by this instance; `signal` aborts when the lock is lost (its lease expired). */
export interface AcmeLock {
  readonly signal: AbortSignal;
  /** Gives the lock up (deletes the key); never throws. */
  release(): Promise<void>;
}

/** The certificate of a name as the fleet's store holds it. */
export interface SharedCertificate {
  readonly cert: string;
  readonly key: string;
  readonly origin: string;
  readonly source: CertificateSource;
}

/**
 * What ACME needs from a fleet (the etcd store): a lock per certificate so one instance
 * orders at a time, the http-01 tokens in the store so whichever instance the validator
 * reaches answers, and a read of the certificate the fleet holds.
 */
export interface AcmeFleet {
  /** Takes the order lock of `name`; undefined when another instance holds it. Throws STORE_UNAVAILABLE when etcd does not answer. */
  lock(name: string): Promise<AcmeLock | undefined>;
  /** Stores a token (with a lease, so it vanishes if this instance dies); resolves once this instance's watch delivered it. */
  publishChallenge(challenge: SharedChallenge): Promise<void>;
  /** Deletes a token; never throws. */
  withdrawChallenge(token: string): Promise<void>;
  /** Reads every token and follows changes: `onAdd` / `onRemove` per token. Resolves once the current ones were delivered. */
  followChallenges(onAdd: (challenge: SharedChallenge) => void, onRemove: (token: string) => void): Promise<void>;
  /** The certificate `name` as stored in the fleet, or undefined. */
  certificate(name: string): Promise<SharedCertificate | undefined>;
}
