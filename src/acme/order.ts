import type { Logger } from 'pino';
import type { AcmeConfig } from '../config/schema.js';
import { messageOf } from '../errors.js';
import type { AcmeEvent, EventBus } from '../events/bus.js';
import type { CertificateStore } from '../tls/store.js';
import type { AcmeFleet, AcmeLock } from './fleet.js';
import type { AcmeIssuer } from './issuer.js';
import type { Managed } from './managed.js';
import { LOCK_RETRY_MS, retryDelay } from './schedule.js';

/** What one order uses of the manager that runs it. */
export interface OrderRun {
  readonly store: CertificateStore;
  readonly events: EventBus;
  readonly log: Logger;
  /** With the etcd store: the order lock and the shared certificates. */
  readonly fleet: AcmeFleet | undefined;
  readonly issuer: AcmeIssuer;
  /** False once the manager stopped, or no longer manages this certificate. */
  current(m: Managed): boolean;
  /** When the installed certificate of `m` is due for renewal. */
  renewalDue(m: Managed, config: AcmeConfig): number;
  /** The next order of `name`, ISO 8601. */
  nextRenewal(name: string): string | undefined;
  /** Arms the timer of `m` for its next order. */
  schedule(m: Managed): void;
  /** Arms the timer of `m` for `at` (epoch ms). */
  arm(m: Managed, at: number): void;
  /** Publishes an `acme` event. */
  publish(event: Omit<AcmeEvent, 'type' | 'time'>): void;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** `work`, or a rejection with the signal's reason as soon as it aborts. */
function unlessAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** One order of `m`, start to install, under the fleet's lock when there is one; never throws (a failure is scheduled for retry). */
export async function runOrder(m: Managed, config: AcmeConfig | undefined, run: OrderRun): Promise<void> {
  if (config === undefined || !run.current(m)) {
    m.running = false;
    return;
  }
  const { log, store, events, fleet } = run;
  let lock: AcmeLock | undefined;
  try {
    if (fleet !== undefined) {
      lock = await fleet.lock(m.name);
      if (lock === undefined) {
        // Another instance orders it: its result arrives through etcd (adoptShared); until then, try again now and then.
        log.info({ certificate: m.name }, 'ACME order runs on another instance (its lock is held); waiting for its certificate');
        m.running = false;
        if (run.current(m)) run.arm(m, Date.now() + LOCK_RETRY_MS);
        return;
      }
      if (await renewedInFleet(m, config, fleet, run)) {
        m.running = false;
        run.schedule(m);
        return;
      }
    }
    const renewing = store.source(m.name) === 'acme';
    log.info({ certificate: m.name, hosts: m.hosts, directory: config.directory, renewing }, 'ACME order started');
    run.publish({ name: m.name, action: 'ordered', hosts: m.hosts });
    const ordering = run.issuer.issue(config, m.hosts);
    const issued = await (lock === undefined ? ordering : unlessAborted(ordering, lock.signal));
    if (!run.current(m)) return;
    if (lock?.signal.aborted) throw lock.signal.reason;
    const { info, replaced } = await store.add(m.name, issued.certPem, issued.keyPem, 'acme');
    m.failures = 0;
    m.lastError = undefined;
    m.retryAt = undefined;
    m.lastIssuedAt = Date.now();
    m.running = false;
    run.schedule(m);
    const next = run.nextRenewal(m.name);
    log.info({ certificate: m.name, fingerprint256: info.fingerprint256, not_after: info.not_after, next_renewal: next }, 'ACME certificate installed');
    events.publish({
      type: 'certificate',
      time: new Date().toISOString(),
      name: m.name,
      action: replaced ? 'replaced' : 'added',
      fingerprint256: info.fingerprint256,
    });
    run.publish({
      name: m.name,
      action: renewing ? 'renewed' : 'issued',
      hosts: m.hosts,
      fingerprint256: info.fingerprint256,
      not_after: info.not_after,
      ...(next === undefined ? {} : { next_renewal: next }),
    });
  } catch (err) {
    if (!run.current(m)) return;
    m.failures += 1;
    m.lastError = messageOf(err);
    m.retryAt = Date.now() + retryDelay(m.failures, Math.random());
    m.running = false;
    run.schedule(m);
    const kept = store.get(m.name);
    log.error(
      { certificate: m.name, hosts: m.hosts, err: m.lastError, failures: m.failures, retry_at: iso(m.retryAt), kept: kept?.fingerprint256 ?? null },
      kept ? 'ACME order failed; the current certificate stays' : 'ACME order failed',
    );
    run.publish({ name: m.name, action: 'failed', hosts: m.hosts, error: m.lastError, retry_at: iso(m.retryAt) });
  } finally {
    m.running = false;
    await lock?.release();
  }
}

/**
 * After taking the lock: installs the certificate the fleet holds (another instance may
 * have just renewed it) and says whether it is still not due, so nothing is ordered twice.
 */
async function renewedInFleet(m: Managed, config: AcmeConfig, fleet: AcmeFleet, run: OrderRun): Promise<boolean> {
  const shared = await fleet.certificate(m.name);
  if (shared?.source === 'acme') await run.store.applyRemote(m.name, { cert: shared.cert, key: shared.key }, shared.origin, 'acme');
  if (run.renewalDue(m, config) <= Date.now()) return false;
  m.retryAt = undefined;
  m.failures = 0;
  m.lastError = undefined;
  run.log.info({ certificate: m.name, origin: shared?.origin }, 'ACME certificate already renewed in the fleet; not ordering');
  return true;
}
