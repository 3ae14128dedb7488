/**
 * When each ACME certificate is ordered: its timer, armed for its renewal (or its retry
 * after a failure), and the queue that runs orders one at a time. Apart from the manager
 * because this is the clockwork, while the manager decides which certificates there are
 * (config, API requests) and answers for them; schedule.ts holds the arithmetic of when,
 * order.ts one order from start to install.
 */

import type { AcmeConfig } from '../config/schema.js';
import type { AcmeEvent } from '../events/bus.js';
import { sameHosts } from '../config/acme-hosts.js';
import type { Managed } from './managed.js';
import { type OrderRun, runOrder } from './order.js';
import { MAX_TIMER_MS, renewalTime } from './schedule.js';

/** What the scheduler orders with: the store, the bus, the log, the fleet and the issuer. */
export type SchedulerDeps = Pick<OrderRun, 'store' | 'events' | 'log' | 'fleet' | 'issuer'>;

const iso = (ms: number) => new Date(ms).toISOString();

/** The certificates ACME keeps issued, by name, each with the timer of its next order. */
export class OrderScheduler {
  private readonly managed = new Map<string, Managed>();
  private acme: AcmeConfig | undefined;
  private queue: Promise<void> = Promise.resolve();
  private halted = false;
  /** What each order uses of this scheduler. */
  private readonly run: OrderRun;

  constructor(private readonly deps: SchedulerDeps) {
    this.run = {
      ...deps,
      current: (m) => !this.halted && this.managed.get(m.name) === m,
      renewalDue: (m, config) => this.renewalDue(m, config),
      nextRenewal: (name) => this.nextRenewal(name),
      schedule: (m) => this.schedule(m),
      arm: (m, at) => this.arm(m, at),
      publish: (event) => this.publish(event),
    };
  }

  /** The `acme` section orders use; undefined when there is none (nothing is ordered). */
  get config(): AcmeConfig | undefined {
    return this.acme;
  }

  /** Takes the `acme` section of a (re)loaded config; call `reschedule` for each certificate after. */
  configure(config: AcmeConfig | undefined): void {
    this.acme = config;
  }

  /** True once `stop` was called. */
  get stopped(): boolean {
    return this.halted;
  }

  /** The certificate `name` when it is managed. */
  get(name: string): Managed | undefined {
    return this.managed.get(name);
  }

  /** Every managed certificate, by name. */
  sorted(): Managed[] {
    return [...this.managed.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Every managed certificate, in the order they were tracked (safe to `drop` while iterating). */
  all(): IterableIterator<Managed> {
    return this.managed.values();
  }

  /** Starts managing `name` (no timer yet: `schedule` arms it). */
  track(name: string, hosts: readonly string[], origin: 'config' | 'api'): Managed {
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

  /** Stops managing `m`: its timer is cleared; an order in flight finishes but installs nothing. */
  drop(m: Managed): void {
    this.disarm(m);
    this.managed.delete(m.name);
  }

  /** Stops every timer; an order in flight finishes but installs nothing. */
  stop(): void {
    this.halted = true;
    for (const m of this.managed.values()) this.disarm(m);
  }

  /** When `name` is ordered next (ISO 8601), when it is managed and an order is scheduled. */
  nextRenewal(name: string): string | undefined {
    const due = this.managed.get(name)?.dueAt;
    return due === undefined ? undefined : iso(due);
  }

  /** Clears the timer of `m` and arms it again from what is installed now. */
  reschedule(m: Managed): void {
    this.disarm(m);
    this.schedule(m);
  }

  /** Arms the timer of `m` for its next order, unless it is ordering, no longer managed, or there is no `acme` section. */
  schedule(m: Managed): void {
    const config = this.acme;
    if (this.halted || config === undefined || m.running || this.managed.get(m.name) !== m) return;
    this.arm(m, this.nextOrder(m, config));
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
    this.queue = this.queue.then(() => runOrder(m, this.acme, this.run));
  }

  private publish(event: Omit<AcmeEvent, 'type' | 'time'>): void {
    this.deps.events.publish({ type: 'acme', time: new Date().toISOString(), ...event });
  }
}
