import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { messageOf, SwitchyardError } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import { assertCertificateName } from '../config/certificate-names.js';
import type { CertificateStore } from '../tls/store.js';
import { ChallengeResponder } from './challenges.js';
import type { AcmeFleet } from './fleet.js';
import { normalizeAcmeHosts, sameHosts } from '../config/acme-hosts.js';
import { AcmeIssuer } from './issuer.js';
import type { Managed } from './managed.js';
import { AcmeRequests } from './requests-file.js';
import { OrderScheduler } from './scheduler.js';

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
 * a time through the AcmeIssuer (the timers and the queue: scheduler.ts); the result is installed through the certificate store
 * (validated as uploads are, live on the next handshake). A failed order keeps the old
 * certificate, is logged, published as an `acme` event and retried with exponential
 * backoff. With no `acme` section nothing is ordered and the challenge check costs nothing.
 */
export class AcmeManager {
  /** The http-01 tokens in flight; the plain-HTTP listeners answer them before routing. */
  readonly challenges = new ChallengeResponder();
  /** The certificates managed, their timers and the order queue. */
  private readonly scheduler: OrderScheduler;
  /** The certificates asked for through the API, kept in `acme/requests.json`. */
  private readonly requests: AcmeRequests;
  private declared = new Set<string>();
  private followRetry: NodeJS.Timeout | undefined;

  constructor(private readonly deps: AcmeManagerDeps) {
    const dir = join(deps.certsDir, 'acme');
    this.requests = new AcmeRequests(join(dir, 'requests.json'), deps.log);
    const issuer = new AcmeIssuer(dir, this.challenges, deps.log);
    this.challenges.log = deps.log;
    this.scheduler = new OrderScheduler({ store: deps.store, events: deps.events, log: deps.log, fleet: deps.fleet, issuer });
  }

  /** Loads the API's requests and schedules every certificate; orders run in the background (call once the plain listeners are open). */
  async start(config: Config): Promise<void> {
    await this.requests.load();
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
      if (this.scheduler.stopped) return;
      this.followRetry = setTimeout(() => void this.followFleetTokens(fleet), FOLLOW_RETRY_MS);
      this.followRetry.unref();
    }
  }

  /** A certificate changed here (from the fleet, or by this instance): an ACME one valid for the same hosts ends a failing streak and sets the renewal. */
  private adoptShared(name: string): void {
    const m = this.scheduler.get(name);
    if (m === undefined || m.running || this.deps.store.source(name) !== 'acme') return;
    const info = this.deps.store.get(name);
    if (info === undefined || !sameHosts(info.hosts, m.hosts) || Date.parse(info.not_after) <= Date.now()) return;
    m.retryAt = undefined;
    m.failures = 0;
    m.lastError = undefined;
    this.scheduler.schedule(m);
  }

  /** Applies a reloaded config: new certificates are ordered, removed ones no longer renewed (their files stay). */
  reload(config: Config): void {
    this.apply(config);
  }

  /** Stops every timer; an order in flight finishes but installs nothing. */
  stop(): void {
    this.scheduler.stop();
    clearTimeout(this.followRetry);
  }

  /** True when config's `certificates` declares `name` (the API must not replace or delete it). */
  isDeclared(name: string): boolean {
    return this.declared.has(name);
  }

  /** True when ACME orders or renews `name` (declared in config or requested through the API). */
  manages(name: string): boolean {
    return this.scheduler.get(name) !== undefined;
  }

  /** When `name` is ordered next (ISO 8601), when ACME manages it and an order is scheduled. */
  nextRenewal(name: string): string | undefined {
    return this.scheduler.nextRenewal(name);
  }

  /** Every ACME certificate with its state, by name. */
  list(): AcmeStatus[] {
    return this.scheduler.sorted().map((m) => this.statusOf(m));
  }

  /**
   * POST /v1/certificates/acme: validates, records the request durably and schedules the
   * first order at once. 400 INVALID_BODY (bad name, no hosts, wildcard, IP), 409
   * CERTIFICATE_EXISTS (a certificate or ACME order of that name exists), 409
   * ACME_NOT_CONFIGURED; nothing changes on any error.
   */
  async request(name: string, rawHosts: readonly string[]): Promise<AcmeStatus> {
    if (this.scheduler.config === undefined) throw new SwitchyardError('ACME_NOT_CONFIGURED');
    assertCertificateName(name);
    const hosts = normalizeAcmeHosts(rawHosts);
    if (this.manages(name) || this.deps.store.has(name)) {
      throw new SwitchyardError('CERTIFICATE_EXISTS', `a certificate or ACME order named "${name}" exists; delete it first or pick another name`);
    }
    // Reserved before the write, so a concurrent request for the same name is refused.
    const m = this.scheduler.track(name, hosts, 'api');
    try {
      await this.requests.add({ name, hosts });
    } catch (err) {
      this.scheduler.drop(m);
      throw err;
    }
    this.scheduler.schedule(m);
    return this.statusOf(m);
  }

  /**
   * Stops managing an API-requested certificate (it was deleted, or replaced by an upload):
   * its timer is cleared and its request removed from disk. Config-declared ones stay.
   */
  async forget(name: string): Promise<void> {
    const m = this.scheduler.get(name);
    if (m === undefined || m.origin !== 'api') return;
    this.scheduler.drop(m);
    await this.requests.remove(name);
  }

  private apply(config: Config): void {
    this.scheduler.configure(config.acme);
    this.declared = new Set(config.certificates.map((c) => c.name));
    const wanted = new Map<string, { hosts: readonly string[]; origin: 'config' | 'api' }>();
    for (const r of this.requests.all) wanted.set(r.name, { hosts: r.hosts, origin: 'api' });
    for (const c of config.certificates) wanted.set(c.name, { hosts: c.hosts, origin: 'config' });
    for (const m of this.scheduler.all()) {
      const want = wanted.get(m.name);
      if (want === undefined || want.origin !== m.origin || !sameHosts(want.hosts, m.hosts)) this.scheduler.drop(m);
    }
    for (const [name, want] of wanted) this.scheduler.reschedule(this.scheduler.get(name) ?? this.scheduler.track(name, want.hosts, want.origin));
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
}
