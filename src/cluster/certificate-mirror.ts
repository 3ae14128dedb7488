import type { SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { messageOf } from '../errors.js';
import { deferredContext } from '../tls/certificate-table.js';
import { SniIndex } from '../tls/sni-index.js';
import type { CertificateProvider } from '../tls/provider.js';
import type { CertificateChange } from '../tls/store.js';

interface Entry {
  readonly name: string;
  readonly hosts: readonly string[];
  readonly cert: string;
  readonly key: string;
  readonly keyType: string;
  /** Built at the first handshake that needs it. */
  context: SecureContext | undefined;
  /** Why the context could not be built; set once, so a bad pair logs once. */
  contextError: string | undefined;
}

/**
 * A worker's mirror of the primary's certificate store: pairs the primary validated and
 * stored, indexed by host for SNI. No files and no validation here; a TLS context is
 * built at the first handshake that needs it, as the store does for certificates loaded
 * from disk, so a worker starting with 10,000 certificates is not slower to listen.
 */
export class CertificateMirror implements CertificateProvider {
  private readonly entries = new Map<string, Entry>();
  private readonly index = new SniIndex<Entry>();
  private readonly listeners = new Set<(name: string) => void>();
  private readonly log: Logger;

  constructor(log: Logger) {
    this.log = log;
  }

  /**
   * Applies one change the primary made (add, replace or delete). `eager` builds the TLS
   * context now (an upload at run time), so the first handshake after it does not pay for it.
   */
  apply(change: CertificateChange, eager = false): void {
    const previous = this.entries.get(change.name);
    if (previous) {
      this.index.remove(previous);
      this.entries.delete(change.name);
    }
    if (change.action === 'set') {
      const { name, hosts, cert, key, keyType } = change;
      const entry: Entry = { name, hosts, cert, key, keyType, context: undefined, contextError: undefined };
      this.entries.set(name, entry);
      this.index.add(entry);
      if (eager) this.contextFor(undefined, name);
    }
    for (const listener of this.listeners) {
      try {
        listener(change.name);
      } catch (err) {
        this.log.error({ certificate: change.name, err: messageOf(err) }, 'certificate change listener failed');
      }
    }
  }

  contextFor(servername: string | undefined, defaultCert: string | undefined): SecureContext | undefined {
    const entry = (servername ? this.index.lookup(servername) : undefined) ?? (defaultCert === undefined ? undefined : this.entries.get(defaultCert));
    return entry && deferredContext(entry, entry.cert, entry.key, this.log);
  }

  keyPair(name: string): { cert: string; key: string; keyType: string } | undefined {
    const entry = this.entries.get(name);
    return entry && { cert: entry.cert, key: entry.key, keyType: entry.keyType };
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  subscribe(listener: (name: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
