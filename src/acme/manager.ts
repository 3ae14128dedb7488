import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AcmeConfig, Config } from '../config/schema.js';
import { messageOf, SwitchyardError } from '../errors.js';
import type { AcmeEvent, EventBus } from '../events/bus.js';
import { assertCertificateName } from '../config/certificate-names.js';
import type { CertificateStore } from '../tls/store.js';
import { ChallengeResponder } from './challenges.js';
import type { AcmeFleet } from './fleet.js';
import { normalizeAcmeHosts, sameHosts } from '../config/acme-hosts.js';
import { AcmeIssuer } from './issuer.js';
import type { Managed } from './managed.js';
import { type OrderRun, runOrder } from './order.js';
import { type AcmeRequest, readAcmeRequests, writeAcmeRequests } from './requests-file.js';
import { MAX_TIMER_MS, renewalTime } from './schedule.js';

/** What the manager reads and writes. */
export interface AcmeManagerDeps {
  readonly store: CertificateStore;
  readonly events: EventBus;
  readonly log: Logger;
  /** `certs_dir`: the account key and the requests file go in its `acme/` folder. */
  readonly certsDir: string;
  /** With the etcd store: the order lock, shared tokens and shared certificates (SPEC §12). */
  readonly fleet?: AcmeFleet | undefined;
}

/** One ACME certificate as the API shows it. */
export interface AcmeStatus {
  name: string;
  hosts: string[];
  /** `config` (the `certificates` list) or `api` (POST /v1/certificates/acme). */
  origin: 'config' | 'api';
  /** `pending` (no certificate yet), `ordering`, `valid` (installed, renewal scheduled) or `failing` (the last order failed; a retry is scheduled). */
  state: 'pending' | 'ordering' | 'valid' | 'failing';
  /** When the next order runs (renewal or retry), ISO 8601; null while ordering or without an `acme` section. */
  next_renewal: string | null;
  /** Why the last order failed, while it keeps failing. */
  last_error: string | null;
  /** Consecutive failed orders. */
  failures: number;
}

/** Pause between two tries to reach etcd for the fleet's tokens after a start without it. */
const FOLLOW_RETRY_MS = 2_000;

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Keeps the ACME certificates (from config and from the API) issued and renewed: each has
 * a timer for its next order, `renew_before` ahead of expiry with jitter; orders run one at
 * a time through the AcmeIssuer; the result is installed through the certificate store
 * (validated as uploads are, live on the next handshake). A failed order keeps the old
 * certificate, is logged, published as an `acme` event and retried with exponential
 * backoff. With no `acme` section nothing is ordered and the challenge check costs nothing.
 */
export class AcmeManager {
  /** The http-01 tokens in flight; the plain-HTTP listeners answer them before routing. */
  readonly challenges = new ChallengeResponder();
  private readonly managed = new Map<string, Managed>();
  private readonly issuer: AcmeIssuer;
  private readonly requestsPath: string;
  private config: AcmeConfig | undefined;
  private declared = new Set<string>();
  private requests: AcmeRequest[] = [];
  private queue: Promise<void> = Promise.resolve();
  private writes: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private followRetry: NodeJS.Timeout | undefined;

  /** What each order uses of this manager. */
  private readonly run: OrderRun;

  constructor(private readonly deps: AcmeManagerDeps) {
    const dir = join(deps.certsDir, 'acme');
    this.requestsPath = join(dir, 'requests.json');
    this.issuer = new AcmeIssuer(dir, this.challenges, deps.log);
    this.challenges.log = deps.log;
    this.run = {
      ...deps,
      fleet: deps.fleet,
      issuer: this.issuer,
      current: (m) => !this.stopped && this.managed.get(m.name) === m,
      renewalDue: (m, config) => this.renewalDue(m, config),
      nextRenewal: (name) => this.nextRenewal(name),
      schedule: (m) => this.schedule(m),
      arm: (m, at) => this.arm(m, at),
      publish: (event) => this.publish(event),
    };
  }

  /** Loads the API's requests and schedules every certificate; orders run in the background (call once the plain listeners are open). */
  async start(config: Config): Promise<void> {
    try {
      const { requests, skipped } = await readAcmeRequests(this.requestsPath);
      this.requests = requests;
      if (skipped.length > 0) this.deps.log.warn({ file: this.requestsPath, skipped }, 'ignoring invalid entries of the ACME requests file');
    } catch (err) {
      this.deps.log.error(
        { file: this.requestsPath, err: messageOf(err) },
        'ACME requests file cannot be read; certificates requested through the API are not renewed',
      );
    }
    const fleet = this.deps.fleet;
    if (fleet !== undefined) {
      // Another instance's certificate arriving through etcd moves the renewal here too.
      this.deps.store.subscribe((name) => this.adoptShared(name));
      await this.followFleetTokens(fleet);
    }
    this.apply(config);
  }

  /** Answers the fleet's tokens here; while etcd does not answer, keeps trying in the background. */
  private async followFleetTokens(fleet: AcmeFleet): Promise<void> {
    try {
      await this.challenges.shareWith(fleet);
    } catch (err) {
      this.deps.log.error({ err: messageOf(err) }, "the fleet's ACME challenges cannot be read from etcd; trying again");
      if (this.stopped) return;
      this.followRetry = setTimeout(() => void this.followFleetTokens(fleet), FOLLOW_RETRY_MS);
      this.followRetry.unref();
    }
  }

  /** A certificate changed here (from the fleet, or by this instance): an ACME one valid for the same hosts ends a failing streak and sets the renewal. */
  private adoptShared(name: string): void {
    const m = this.managed.get(name);
    if (m === undefined || m.running || this.deps.store.source(name) !== 'acme') return;
    const info = this.deps.store.get(name);
    if (info === undefined || !sameHosts(info.hosts, m.hosts) || Date.parse(info.not_after) <= Date.now()) return;
    m.retryAt = undefined;
    m.failures = 0;
    m.lastError = undefined;
    this.schedule(m);
  }

  /** Applies a reloaded config: new certificates are ordered, removed ones no longer renewed (their files stay). */
  reload(config: Config): void {
    this.apply(config);
  }

  /** Stops every timer; an order in flight finishes but installs nothing. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.followRetry);
    for (const m of this.managed.values()) this.disarm(m);
  }

  /** True when config's `certificates` declares `name` (the API must not replace or delete it). */
  isDeclared(name: string): boolean {
    return this.declared.has(name);
  }

  /** True when ACME orders or renews `name` (declared in config or requested through the API). */
  manages(name: string): boolean {
    return this.managed.has(name);
  }

  /** When `name` is ordered next (ISO 8601), when ACME manages it and an order is scheduled. */
  nextRenewal(name: string): string | undefined {
    const due = this.managed.get(name)?.dueAt;
    return due === undefined ? undefined : iso(due);
  }

  /** Every ACME certificate with its state, by name. */
  list(): AcmeStatus[] {
    return [...this.managed.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((m) => this.statusOf(m));
  }

  /**
   * POST /v1/certificates/acme: validates, records the request durably and schedules the
   * first order at once. 400 INVALID_BODY (bad name, no hosts, wildcard, IP), 409
   * CERTIFICATE_EXISTS (a certificate or ACME order of that name exists), 409
   * ACME_NOT_CONFIGURED; nothing changes on any error.
   */
  async request(name: string, rawHosts: readonly string[]): Promise<AcmeStatus> {
    if (this.config === undefined) throw new SwitchyardError('ACME_NOT_CONFIGURED');
    assertCertificateName(name);
    const hosts = normalizeAcmeHosts(rawHosts);
    if (this.managed.has(name) || this.deps.store.has(name)) {
      throw new SwitchyardError('CERTIFICATE_EXISTS', `a certificate or ACME order named "${name}" exists; delete it first or pick another name`);
    }
    // Reserved before the write, so a concurrent request for the same name is refused.
    const m = this.track(name, hosts, 'api');
    try {
      await this.persist([...this.requests, { name, hosts }]);
    } catch (err) {
      this.managed.delete(name);
      throw err;
    }
    this.schedule(m);
    return this.statusOf(m);
  }

  /**
   * Stops managing an API-requested certificate (it was deleted, or replaced by an upload):
   * its timer is cleared and its request removed from disk. Config-declared ones stay.
   */
  async forget(name: string): Promise<void> {
    const m = this.managed.get(name);
    if (m === undefined || m.origin !== 'api') return;
    this.disarm(m);
    this.managed.delete(name);
    await this.persist(this.requests.filter((r) => r.name !== name));
  }

  private apply(config: Config): void {
    this.config = config.acme;
    this.declared = new Set(config.certificates.map((c) => c.name));
    const wanted = new Map<string, { hosts: readonly string[]; origin: 'config' | 'api' }>();
    for (const r of this.requests) wanted.set(r.name, { hosts: r.hosts, origin: 'api' });
    for (const c of config.certificates) wanted.set(c.name, { hosts: c.hosts, origin: 'config' });
    for (const [name, m] of this.managed) {
      const want = wanted.get(name);
      if (want === undefined || want.origin !== m.origin || !sameHosts(want.hosts, m.hosts)) {
        this.disarm(m);
        this.managed.delete(name);
      }
    }
    for (const [name, want] of wanted) {
      const m = this.managed.get(name) ?? this.track(name, want.hosts, want.origin);
      this.disarm(m);
      this.schedule(m);
    }
  }

  private track(name: string, hosts: readonly string[], origin: 'config' | 'api'): Managed {
    const m: Managed = {
      name,
      hosts,
      origin,
      timer: undefined,
      dueAt: undefined,
      running: false,
      failures: 0,
      lastError: undefined,
      retryAt: undefined,
      lastIssuedAt: undefined,
    };
    this.managed.set(name, m);
    return m;
  }

  private persist(requests: AcmeRequest[]): Promise<void> {
    const write = this.writes.then(() => writeAcmeRequests(this.requestsPath, requests));
    this.writes = write.catch(() => undefined);
    return write.then(() => {
      this.requests = requests;
    });
  }

  private statusOf(m: Managed): AcmeStatus {
    const installed = this.deps.store.source(m.name) === 'acme';
    return {
      name: m.name,
      hosts: [...m.hosts],
      origin: m.origin,
      state: m.running ? 'ordering' : m.failures > 0 ? 'failing' : installed ? 'valid' : 'pending',
      next_renewal: m.dueAt === undefined ? null : iso(m.dueAt),
      last_error: m.lastError ?? null,
      failures: m.failures,
    };
  }

  /** When `m` should be ordered next: at once when it has no matching ACME certificate, at the retry time after a failure, else before expiry. */
  private nextOrder(m: Managed, config: AcmeConfig): number {
    return m.retryAt ?? this.renewalDue(m, config);
  }

  /** When the installed certificate of `m` is due for renewal: now when there is no matching ACME certificate. */
  private renewalDue(m: Managed, config: AcmeConfig): number {
    const now = Date.now();
    const info = this.deps.store.get(m.name);
    if (info === undefined || this.deps.store.source(m.name) !== 'acme' || !sameHosts(info.hosts, m.hosts)) return now;
    return renewalTime({
      notBefore: Date.parse(info.not_before),
      notAfter: Date.parse(info.not_after),
      renewBefore: config.renew_before,
      minInterval: config.min_renew_interval,
      lastIssuedAt: m.lastIssuedAt,
      random: Math.random(),
    });
  }

  private schedule(m: Managed): void {
    const config = this.config;
    if (this.stopped || config === undefined || m.running || this.managed.get(m.name) !== m) return;
    this.arm(m, this.nextOrder(m, config));
  }

  private arm(m: Managed, at: number): void {
    this.disarm(m);
    m.dueAt = at;
    // setTimeout cannot wait longer than MAX_TIMER_MS: a renewal months away is re-armed on the way.
    m.timer = setTimeout(
      () => {
        m.timer = undefined;
        if (Date.now() < at) this.arm(m, at);
        else this.enqueue(m);
      },
      Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS),
    );
    m.timer.unref();
  }

  private disarm(m: Managed): void {
    if (m.timer !== undefined) clearTimeout(m.timer);
    m.timer = undefined;
    m.dueAt = undefined;
  }

  private enqueue(m: Managed): void {
    m.running = true;
    m.dueAt = undefined;
    this.queue = this.queue.then(() => runOrder(m, this.config, this.run));
  }

  private publish(event: Omit<AcmeEvent, 'type' | 'time'>): void {
    this.deps.events.publish({ type: 'acme', time: new Date().toISOString(), ...event });
  }
}
