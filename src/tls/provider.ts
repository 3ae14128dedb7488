import type { SecureContext } from 'node:tls';

/**
 * What TLS listeners read certificates from: the certificate store in a single process, a
 * replica fed by the primary in a worker process (src/cluster/certificate-replica.ts).
 */
export interface CertificateProvider {
  /** The context for a handshake: exact name, then wildcard, then `defaultCert`; undefined when none. */
  contextFor(servername: string | undefined, defaultCert: string | undefined): SecureContext | undefined;
  /** PEM chain and key of one certificate, for a TLS server's base context. */
  keyPair(name: string): { cert: string; key: string; keyType: string } | undefined;
  /** True when a certificate of that name is installed. */
  has(name: string): boolean;
  /** Calls `listener(name)` after each add, replace or delete; returns the unsubscribe function. */
  subscribe(listener: (name: string) => void): () => void;
}
