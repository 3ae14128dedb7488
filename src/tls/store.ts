import { mkdir } from 'node:fs/promises';
import type { SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { messageOf, SwitchyardError } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import { SerialQueue } from '../serial-queue.js';
import { readCertificateDir, removeCertificateFiles, writeCertificateFiles } from './cert-files.js';
import { type CertificateSource, readCertificateSources, writeCertificateSource } from './cert-meta.js';
import { assertCertificateName } from '../config/certificate-names.js';
import { type CertificateInfo, CertificateTable, infoOf, type TableEntry } from './certificate-table.js';
import { type CertificateChange, ChangeFanout } from './change-fanout.js';
import { generateSelfSigned } from './self-signed.js';
import { type ValidCertificate, validateUpload } from './validate.js';

// What callers of the store import from here, wherever it is defined.
export type { CertificateInfo } from './certificate-table.js';
export type { CertificateChange } from './change-fanout.js';
export { ensureSelfSigned } from './default-cert.js';

/**
 * Where certificate changes are shared besides `certs_dir` (a fleet's etcd, SPEC §9): an
 * upload is validated, then handed to the replica, and installed only once the replica
 * took it; a throw there cancels the change, nothing is installed or removed.
 */
export interface CertificateReplica {
  put(name: string, certPem: string, keyPem: string, source: CertificateSource): Promise<void>;
  delete(name: string): Promise<void>;
}

/**
 * The certificates of `certs_dir`, validated, indexed by host for SNI, and turned into TLS
 * contexts once (when added, or at the first handshake for those loaded at start; see
 * certificate-table.ts). Changes are validated before anything is touched, written atomically
 * (write-file-atomic: temp file, fsync, rename; keys 0600) and then swapped in, so a new
 * handshake sees them at once and open connections keep the context they started with;
 * then listeners, workers and the event bus are told (change-fanout.ts).
 */
export class CertificateStore {
  private readonly table: CertificateTable;
  private readonly fanout: ChangeFanout;
  /** Mutations run one at a time so the files and the maps never disagree. */
  private readonly queue = new SerialQueue();
  private replica: CertificateReplica | undefined;

  private constructor(
    private readonly dir: string,
    private readonly log: Logger,
    events: EventBus | undefined,
  ) {
    this.table = new CertificateTable(log);
    this.fanout = new ChangeFanout(log, events);
  }

  /** Opens `dir` (created 0700 when missing) and loads every `<name>.crt` + `<name>.key` pair in it; changes are published on `events`. */
  static async open(dir: string, log: Logger, events?: EventBus): Promise<CertificateStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const store = new CertificateStore(dir, log, events);
    await store.load();
    return store;
  }

  /** Every certificate, by name; never key material. */
  list(): CertificateInfo[] {
    return this.table.list();
  }

  /** One certificate's info, or undefined. */
  get(name: string): CertificateInfo | undefined {
    return this.table.info(name);
  }

  /** Where the certificate `name` came from, or undefined when there is none. */
  source(name: string): CertificateSource | undefined {
    return this.table.entry(name)?.source;
  }

  /** True when a certificate of that name is installed. */
  has(name: string): boolean {
    return this.table.entry(name) !== undefined;
  }

  /** Why `<name>.crt` in the directory could not be loaded at open, if it could not. */
  loadError(name: string): string | undefined {
    return this.table.loadError(name);
  }

  /**
   * The PEM chain and key of one certificate, for the TLS server's base context (the
   * one clients without SNI get). Nothing else should need key material.
   */
  keyPair(name: string): { cert: string; key: string; keyType: string } | undefined {
    const entry = this.table.entry(name);
    return entry && { cert: entry.certPem, key: entry.keyPem, keyType: entry.keyType };
  }

  /** Shares every later upload and removal with `replica` (see CertificateReplica). */
  replicateTo(replica: CertificateReplica): void {
    this.replica = replica;
  }

  /**
   * Installs (or, with undefined, removes) a certificate changed on another fleet
   * instance, without sharing it back. Already installed as it is: nothing happens. One
   * that does not validate is logged and left out; the certificates here stay as they are.
   */
  async applyRemote(
    name: string,
    pem: { cert: string; key: string } | undefined,
    origin: string | undefined,
    source: CertificateSource = 'uploaded',
  ): Promise<void> {
    await this.queue.run(async () => {
      const entry = this.table.entry(name);
      try {
        if (pem === undefined) {
          if (entry) await this.remove(entry, origin);
          return;
        }
        if (entry?.certPem === pem.cert && entry.keyPem === pem.key && entry.source === source) return;
        await this.install(name, await validateUpload(pem.cert, pem.key), source, { replicate: false, origin });
      } catch (err) {
        this.log.error({ certificate: name, origin, err: messageOf(err) }, 'certificate from the fleet not installed');
      }
    });
  }

  /** Calls `listener(name)` after each add, replace or delete; returns the unsubscribe function. */
  subscribe(listener: (name: string) => void): () => void {
    return this.fanout.subscribe(listener);
  }

  /**
   * Installs the step every change is awaited through before it answers (the worker group
   * applies it on every worker, so after the answer every handshake anywhere sees it). Must not throw.
   */
  applyWith(applier: (change: CertificateChange) => Promise<void>): void {
    this.fanout.applyWith(applier);
  }

  /**
   * Validates (in slices, so proxied traffic keeps flowing) and installs a PEM chain (leaf
   * first) and key under `name`, replacing any certificate of that name. 400
   * INVALID_CERTIFICATE with the reason, and nothing changed, when validation fails.
   * Uploads are validated one at a time, in the order they arrived. `source` is recorded
   * beside the files (ACME passes `acme`).
   */
  async add(name: string, certPem: string, keyPem: string, source: CertificateSource = 'uploaded'): Promise<{ info: CertificateInfo; replaced: boolean }> {
    assertCertificateName(name);
    return this.queue.run(async () => this.install(name, await validateUpload(certPem, keyPem), source));
  }

  /**
   * Generates (off the event loop) and installs a self-signed certificate for `hosts`;
   * `local` keeps it out of the replica (a listener's default made at start: each
   * instance makes its own, also while etcd is unreachable).
   */
  async addSelfSigned(name: string, hosts: string[], days?: number, local = false): Promise<{ info: CertificateInfo; replaced: boolean }> {
    assertCertificateName(name);
    const generated = await generateSelfSigned(hosts, days === undefined ? {} : { days });
    const from = { replicate: !local, origin: undefined };
    return this.queue.run(async () => this.install(name, await validateUpload(generated.certPem, generated.keyPem), 'self-signed', from));
  }

  /** Removes a certificate and its files; 404 UNKNOWN_CERTIFICATE when there is none. */
  async delete(name: string): Promise<void> {
    await this.queue.run(async () => {
      const entry = this.table.entry(name);
      if (!entry) throw new SwitchyardError('UNKNOWN_CERTIFICATE', `no certificate "${name}"`);
      await this.replica?.delete(name);
      await this.remove(entry, undefined);
    });
  }

  /** Removes an entry and its files; runs inside the queue. */
  private async remove(entry: TableEntry, origin: string | undefined): Promise<void> {
    const name = entry.name;
    await removeCertificateFiles(this.dir, name, this.log);
    await writeCertificateSource(this.dir, name, 'uploaded', this.log);
    this.table.remove(entry);
    const from = origin === undefined ? {} : { origin };
    this.log.info({ certificate: name, fingerprint256: entry.fingerprint256, ...from }, 'certificate deleted');
    await this.fanout.announce({ action: 'delete', name }, { action: 'deleted', fingerprint256: entry.fingerprint256, ...from });
  }

  /**
   * The TLS context for a handshake: the newest certificate naming `servername` exactly,
   * else one whose leading wildcard covers it, else `defaultCert`; undefined when none.
   */
  contextFor(servername: string | undefined, defaultCert: string | undefined): SecureContext | undefined {
    return this.table.contextFor(servername, defaultCert);
  }

  /**
   * Shares (unless it came from the fleet; ACME certificates too: one instance orders, every
   * instance serves), writes and swaps in a validated pair; runs inside the queue.
   */
  private async install(
    name: string,
    valid: ValidCertificate,
    source: CertificateSource,
    from: { replicate: boolean; origin: string | undefined } = { replicate: true, origin: undefined },
  ): Promise<{ info: CertificateInfo; replaced: boolean }> {
    const previous = this.table.entry(name);
    if (from.replicate) await this.replica?.put(name, valid.certPem, valid.keyPem, source);
    await writeCertificateFiles(this.dir, name, valid, previous?.keyPem);
    if (source !== 'uploaded' || previous?.source !== 'uploaded') await writeCertificateSource(this.dir, name, source, this.log);
    const entry: TableEntry = { ...valid, name, contextError: undefined, source };
    this.table.put(entry);
    const now = Date.now();
    const origin = from.origin === undefined ? {} : { origin: from.origin };
    this.log.info(
      { certificate: name, hosts: entry.hosts, fingerprint256: entry.fingerprint256, source, replaced: !!previous, ...origin },
      'certificate installed',
    );
    this.table.warnIfExpiring(entry, now);
    const change = { action: 'set', name, hosts: entry.hosts, cert: entry.certPem, key: entry.keyPem, keyType: entry.keyType } as const;
    await this.fanout.announce(change, { action: previous ? 'replaced' : 'added', fingerprint256: entry.fingerprint256, ...origin }, now);
    return { info: infoOf(entry, now), replaced: !!previous };
  }

  private async load(): Promise<void> {
    const { loaded, failed } = await readCertificateDir(this.dir, this.log);
    const sources = await readCertificateSources(this.dir, this.log);
    const now = Date.now();
    for (const { name, valid } of loaded) {
      const entry: TableEntry = { ...valid, name, contextError: undefined, source: sources.get(name) ?? 'uploaded' };
      this.table.put(entry);
      this.table.warnIfExpiring(entry, now);
    }
    for (const [name, reason] of failed) this.table.failed(name, reason);
    this.log.info({ dir: this.dir, certificates: this.table.size, failed: failed.size }, 'certificates loaded');
  }
}
