import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { StackPool } from '../pool/stack-pool.js';
import type { SwitchyardEvent } from '../events/bus.js';
import type { StackMeter } from '../pool/stack-meter.js';
import type { ServiceRoute } from '../routing/service-route.js';
import type { RoutingSnapshot } from '../routing/snapshot.js';
import { ResponseSeries } from './response-series.js';
import { DURATION_BUCKETS, type LabelledCounts, type ResponseCounters } from './stack-series.js';

/** Where the gauges read current state from at scrape time. */
export interface MetricSources {
  /** The current routing snapshot. */
  readonly snapshot: () => RoutingSnapshot;
  /** Open WebSockets of a service's stack. */
  readonly websockets: (service: string, stack: string) => number;
  /** Installed certificates with their expiry. */
  readonly certificates: () => readonly { name: string; not_after: string }[];
  /**
   * Brings the counters up to date before they are read (a primary collects its workers'
   * counts here and `loadCounts` them); none in a single process, whose counters are live.
   */
  readonly refresh?: (() => Promise<void>) | undefined;
  /** Whether the state store answers (etcd; the file store always does). */
  readonly storeConnected?: () => boolean;
}

/**
 * The one registry and every switchyard_* series (SPEC §7). Counters and the histogram
 * are fed through pre-bound StackMeters (in a primary: loaded from the workers' reports
 * before each read); gauges are computed in collect() from current state, so nothing on
 * the hot path touches them.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly responses: ResponseSeries;
  private readonly switches: Counter<'service'>;
  private readonly sources: MetricSources;
  private readonly lastActive = new Map<string, string>();

  constructor(sources: MetricSources) {
    this.sources = sources;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // These three are gauges named like counters, which promtool rejects; the same counts
    // stay available per type as nodejs_active_{handles,requests,resources}.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
    this.responses = new ResponseSeries(
      this.registry,
      {
        requests: 'switchyard_requests_total',
        duration: 'switchyard_request_duration_seconds',
        errors: 'switchyard_upstream_errors_total',
        mirrors: 'switchyard_mirror_requests_total',
      },
      {
        requests: 'Requests answered, by service, stack and status code.',
        duration: 'Time from request arrival to the end of the response.',
        errors: 'Failed upstream attempts, by kind (connect, timeout, reset, protocol, 5xx).',
        mirrors: 'Requests copied to a mirror stack, by result: answered, failed (no target, refused, reset, timed out) or dropped (over a limit).',
      },
      DURATION_BUCKETS,
    );
    this.switches = new Counter({
      name: 'switchyard_switches_total',
      help: 'Switches and rollbacks, plus weight changes that moved the active stack.',
      labelNames: ['service'],
      registers,
    });
    const { snapshot } = sources;
    new Gauge({
      name: 'switchyard_target_healthy',
      help: '1 when the target may take traffic (healthy and not ejected), else 0.',
      labelNames: ['service', 'stack', 'target'],
      registers,
      collect() {
        this.reset();
        const now = Date.now();
        for (const route of snapshot().services.values()) {
          for (const pool of route.pools)
            for (const t of pool.targets) this.set({ service: route.name, stack: pool.name, target: t.address }, t.isAvailable(now) ? 1 : 0);
        }
      },
    });
    const stackGauge = (name: string, help: string, value: (route: ServiceRoute, pool: StackPool, index: number) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['service', 'stack'],
        registers,
        collect() {
          this.reset();
          for (const route of snapshot().services.values())
            for (const [i, pool] of route.pools.entries()) this.set({ service: route.name, stack: pool.name }, value(route, pool, i));
        },
      });
    stackGauge('switchyard_stack_weight', 'Current weight of each stack.', (route, _pool, i) => route.weights[i] ?? 0);
    stackGauge('switchyard_stack_active', '1 for the active stack of each service, else 0.', (route, pool) => (pool === route.active ? 1 : 0));
    stackGauge('switchyard_websocket_connections', 'Open proxied WebSockets.', (route, pool) => sources.websockets(route.name, pool.name));
    new Gauge({
      name: 'switchyard_certificate_expiry_timestamp_seconds',
      help: 'Expiry (notAfter) of each installed certificate, as a Unix timestamp.',
      labelNames: ['name'],
      registers,
      collect() {
        this.reset();
        for (const cert of sources.certificates()) this.set({ name: cert.name }, Math.floor(Date.parse(cert.not_after) / 1000));
      },
    });
    new Gauge({
      name: 'switchyard_config_generation',
      help: 'Generation of the routing snapshot (bumped by every reload or admin change).',
      registers,
      collect() {
        this.set(snapshot().generation);
      },
    });
    const storeConnected = sources.storeConnected ?? (() => true);
    new Gauge({
      name: 'switchyard_store_connected',
      help: '1 while the state store answers (etcd in a fleet; always 1 for the state file), 0 while it is unreachable.',
      registers,
      collect() {
        this.set(storeConnected() ? 1 : 0);
      },
    });
    for (const route of snapshot().services.values()) this.lastActive.set(route.name, route.active.name);
  }

  /** Counts switches from the event bus. */
  readonly onEvent = (event: SwitchyardEvent): void => {
    if (event.type !== 'switch' && event.type !== 'weights' && event.type !== 'rollback') return;
    const moved = this.lastActive.get(event.service) !== event.active;
    this.lastActive.set(event.service, event.active);
    if (event.type !== 'weights' || moved) this.switches.inc({ service: event.service });
  };

  /** A meter with its series bound now, so the request path does no label lookups. */
  meterFor(service: string, stack: string): StackMeter {
    return this.responses.counters.meterFor(service, stack);
  }

  /** The per-stack counters (requests, durations, upstream errors); call `refresh` first in a primary. */
  get counters(): ResponseCounters {
    return this.responses.counters;
  }

  /** Brings the counters up to date (see MetricSources.refresh). */
  async refresh(): Promise<void> {
    await this.sources.refresh?.();
    this.responses.beforeRead?.();
  }

  /** Replaces the counters with sums from other processes (a primary's workers). */
  loadCounts(entries: Iterable<LabelledCounts>): void {
    this.responses.counters.load(entries);
  }

  /**
   * Runs `sync` whenever the counters are about to be read (a scrape, the dashboard's
   * figures, `refresh`): a primary loads what its workers last reported there.
   */
  onRead(sync: () => void): void {
    this.responses.beforeRead = sync;
  }
}
