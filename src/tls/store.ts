import { mkdir } from 'node:fs/promises';
import type { SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { messageOf, SwitchyardError } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import { SerialQueue } from '../serial-queue.js';
import { readCertificateDir, removeCertificateFiles, writeCertificateFiles } from './cert-files.js';
import { assertCertificateName } from './names.js';
import { generateSelfSigned } from './self-signed.js';
import { SniIndex } from './sni-index.js';
import { buildContext, type ValidCertificate, validateUpload } from './validate.js';

/** What the admin API and CLI show of a certificate; never key material. */
export interface CertificateInfo {
  name: string;
  /** Host names from the SAN DNS entries, else the subject CN. */
  hosts: string[];
  /** ISO 8601. */
  not_before: string;
  /** ISO 8601. */
  not_after: string;
  /** SHA-256 of the leaf certificate, `AB:CD:…`. */
  fingerprint256: string;
  /** Expires within 14 days (or already has). */
  expires_soon: boolean;
}

/** A certificate change as other processes apply it (worker processes): a pair to serve under `name`, or `name` to drop. */
export type CertificateChange =
  | { readonly action: 'set'; readonly name: string; readonly hosts: readonly string[]; readonly cert: string; readonly key: string; readonly keyType: string }
  | { readonly action: 'delete'; readonly name: string };

/** A certificate expiring within this is logged with a warning and flagged `expires_soon`. */
export const EXPIRY_WARNING_MS = 14 * 86_400_000;

interface Entry extends Omit<ValidCertificate, 'context'> {
  readonly name: string;
  /** Built at add time, or on the first handshake for certificates loaded from disk. */
  context: SecureContext | undefined;
  /** Why the deferred context could not be built; set once, so a bad pair logs once. */
  contextError: string | undefined;
}

function infoOf(entry: Entry, now: number): CertificateInfo {
  return {
    name: entry.name,
    hosts: [...entry.hosts],
    not_before: entry.notBefore.toISOString(),
    not_after: entry.notAfter.toISOString(),
    fingerprint256: entry.fingerprint256,
    expires_soon: entry.notAfter.getTime() - now < EXPIRY_WARNING_MS,
  };
}

/**
 * The certificates of `certs_dir`, validated, indexed by host for SNI, and turned into TLS
 * contexts once (when added, or at the first handshake for those loaded at start). Changes are validated before anything is touched, written atomically
 * (write-file-atomic: temp file, fsync, rename; keys 0600) and then swapped in, so a new
 * handshake sees them at once and open connections keep the context they started with.
 */
export class CertificateStore {
  private readonly entries = new Map<string, Entry>();
  private readonly index = new SniIndex<Entry>();
  private readonly loadErrors = new Map<string, string>();
  private readonly listeners = new Set<(name: string) => void>();
  /** Mutations run one at a time so the files and the maps never disagree. */
  private readonly queue = new SerialQueue();
  private replicate: ((change: CertificateChange) => Promise<void>) | undefined;

  private constructor(
    private readonly dir: string,
    private readonly log: Logger,
    private readonly events: EventBus | undefined,
  ) {}

  /** Opens `dir` (created 0700 when missing) and loads every `<name>.crt` + `<name>.key` pair in it; changes are published on `events`. */
  static async open(dir: string, log: Logger, events?: EventBus): Promise<CertificateStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const store = new CertificateStore(dir, log, events);
    await store.load();
    return store;
  }

  /** Every certificate, by name; never key material. */
  list(): CertificateInfo[] {
    const now = Date.now();
    return [...this.entries.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((e) => infoOf(e, now));
  }

  /** One certificate's info, or undefined. */
  get(name: string): CertificateInfo | undefined {
    const entry = this.entries.get(name);
    return entry && infoOf(entry, Date.now());
  }

  /** True when a certificate of that name is installed. */
  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Why `<name>.crt` in the directory could not be loaded at open, if it could not. */
  loadError(name: string): string | undefined {
    return this.loadErrors.get(name);
  }

  /**
   * The PEM chain and key of one certificate, for the TLS server's base context (the
   * one clients without SNI get). Nothing else should need key material.
   */
  keyPair(name: string): { cert: string; key: string; keyType: string } | undefined {
    const entry = this.entries.get(name);
    return entry && { cert: entry.certPem, key: entry.keyPem, keyType: entry.keyType };
  }

  /** Calls `listener(name)` after each add, replace or delete; returns the unsubscribe function. */
  subscribe(listener: (name: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Installs the step every change is awaited through before it answers (the worker group
   * applies it on every worker, so after the answer every handshake anywhere sees it). Must not throw.
   */
  replicateWith(replicate: (change: CertificateChange) => Promise<void>): void {
    this.replicate = replicate;
  }

  /**
   * Validates (in slices, so proxied traffic keeps flowing) and installs a PEM chain (leaf
   * first) and key under `name`, replacing any certificate of that name. 400
   * INVALID_CERTIFICATE with the reason, and nothing changed, when validation fails.
   * Uploads are validated one at a time, in the order they arrived.
   */
  async add(name: string, certPem: string, keyPem: string): Promise<{ info: CertificateInfo; replaced: boolean }> {
    assertCertificateName(name);
    return this.queue.run(async () => this.install(name, await validateUpload(certPem, keyPem)));
  }

  /** Generates (off the event loop) and installs a self-signed certificate for `hosts`. */
  async addSelfSigned(name: string, hosts: string[], days?: number): Promise<{ info: CertificateInfo; replaced: boolean }> {
    assertCertificateName(name);
    const generated = await generateSelfSigned(hosts, days === undefined ? {} : { days });
    return this.queue.run(async () => this.install(name, await validateUpload(generated.certPem, generated.keyPem)));
  }

  /** Removes a certificate and its files; 404 UNKNOWN_CERTIFICATE when there is none. */
  async delete(name: string): Promise<void> {
    await this.queue.run(async () => {
      const entry = this.entries.get(name);
      if (!entry) throw new SwitchyardError('UNKNOWN_CERTIFICATE', `no certificate "${name}"`);
      await removeCertificateFiles(this.dir, name, this.log);
      this.entries.delete(name);
      this.index.remove(entry);
      this.log.info({ certificate: name, fingerprint256: entry.fingerprint256 }, 'certificate deleted');
      this.notify(name);
      await this.replicate?.({ action: 'delete', name });
      this.events?.publish({ type: 'certificate', time: new Date().toISOString(), name, action: 'deleted', fingerprint256: entry.fingerprint256 });
    });
  }

  /**
   * The TLS context for a handshake: the newest certificate naming `servername` exactly,
   * else one whose leading wildcard covers it, else `defaultCert`; undefined when none.
   * Map lookups only, so 10,000 certificates cost what one does.
   */
  contextFor(servername: string | undefined, defaultCert: string | undefined): SecureContext | undefined {
    const entry = (servername ? this.index.lookup(servername) : undefined) ?? (defaultCert === undefined ? undefined : this.entries.get(defaultCert));
    if (!entry) return undefined;
    return entry.context ?? this.buildDeferred(entry);
  }

  /** First handshake for a certificate loaded from disk: build its context once. */
  private buildDeferred(entry: Entry): SecureContext | undefined {
    if (entry.contextError !== undefined) return undefined;
    try {
      entry.context = buildContext(entry.certPem, entry.keyPem);
      return entry.context;
    } catch (err) {
      entry.contextError = messageOf(err);
      this.log.error({ certificate: entry.name, err: entry.contextError }, 'certificate cannot be served');
      return undefined;
    }
  }

  private notify(name: string): void {
    for (const listener of this.listeners) {
      try {
        listener(name);
      } catch (err) {
        this.log.error({ certificate: name, err: messageOf(err) }, 'certificate change listener failed');
      }
    }
  }

  private warnIfExpiring(entry: Entry, now: number): void {
    const left = entry.notAfter.getTime() - now;
    if (left <= 0) this.log.error({ certificate: entry.name, not_after: entry.notAfter.toISOString() }, 'certificate has expired');
    else if (left < EXPIRY_WARNING_MS)
      this.log.warn({ certificate: entry.name, not_after: entry.notAfter.toISOString() }, 'certificate expires within 14 days');
  }

  /** Writes and swaps in a validated pair; runs inside the queue. */
  private async install(name: string, valid: ValidCertificate): Promise<{ info: CertificateInfo; replaced: boolean }> {
    const previous = this.entries.get(name);
    await writeCertificateFiles(this.dir, name, valid, previous?.keyPem);
    const entry: Entry = { ...valid, name, contextError: undefined };
    if (previous) this.index.remove(previous);
    this.entries.set(name, entry);
    this.index.add(entry);
    this.loadErrors.delete(name);
    const now = Date.now();
    this.log.info({ certificate: name, hosts: entry.hosts, fingerprint256: entry.fingerprint256, replaced: !!previous }, 'certificate installed');
    this.warnIfExpiring(entry, now);
    this.notify(name);
    await this.replicate?.({ action: 'set', name, hosts: entry.hosts, cert: entry.certPem, key: entry.keyPem, keyType: entry.keyType });
    const action = previous ? 'replaced' : 'added';
    this.events?.publish({ type: 'certificate', time: new Date(now).toISOString(), name, action, fingerprint256: entry.fingerprint256 });
    return { info: infoOf(entry, now), replaced: !!previous };
  }

  private async load(): Promise<void> {
    const { loaded, failed } = await readCertificateDir(this.dir, this.log);
    const now = Date.now();
    for (const { name, valid } of loaded) {
      const entry: Entry = { ...valid, name, contextError: undefined };
      this.entries.set(name, entry);
      this.index.add(entry);
      this.warnIfExpiring(entry, now);
    }
    for (const [name, reason] of failed) this.loadErrors.set(name, reason);
    this.log.info({ dir: this.dir, certificates: this.entries.size, failed: failed.size }, 'certificates loaded');
  }
}

/**
 * At start: when the certificate `name` (a listener's default_cert) is missing, generates a
 * self-signed one for `hosts` (e.g. LOCALHOST_NAMES) and returns its info; returns
 * undefined when it exists. Refuses (400 INVALID_CERTIFICATE) to overwrite files that
 * exist but failed to load: the operator's certificate must be fixed, not replaced.
 */
export async function ensureSelfSigned(store: CertificateStore, name: string, hosts: readonly string[]): Promise<CertificateInfo | undefined> {
  if (store.has(name)) return undefined;
  const failure = store.loadError(name);
  if (failure !== undefined) {
    throw new SwitchyardError(
      'INVALID_CERTIFICATE',
      `certificate "${name}" exists in the certificate directory but cannot be loaded (${failure}); fix or remove its files`,
    );
  }
  const { info } = await store.addSelfSigned(name, [...hosts]);
  return info;
}
