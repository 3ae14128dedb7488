import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { StackPool } from '../pool/stack-pool.js';
import type { Target } from '../pool/target.js';
import type { SwitchyardEvent } from '../events/bus.js';
import type { MirrorResult, StackMeter, UpstreamErrorKind } from '../pool/stack-meter.js';
import type { ServiceRoute } from '../routing/service-route.js';
import type { RoutingSnapshot } from '../routing/snapshot.js';
import { ResponseSeries, type StackSeries } from './response-series.js';

/** Request duration buckets for a proxy: 0.5 ms to 10 s. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Where the gauges read current state from at scrape time. */
export interface MetricSources {
  /** The current routing snapshot. */
  readonly snapshot: () => RoutingSnapshot;
  /** Open WebSockets of a service's stack. */
  readonly websockets: (service: string, stack: string) => number;
  /** Installed certificates with their expiry. */
  readonly certificates: () => readonly { name: string; not_after: string }[];
  /** Whether the state store answers (etcd; the file store always does). */
  readonly storeConnected?: () => boolean;
}

/**
 * The one registry and every switchyard_* series (SPEC §7). Counters and the histogram
 * are fed through pre-bound StackMeters; gauges are computed in collect() from current
 * state, so nothing on the hot path touches them.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly responses: ResponseSeries;
  private readonly upstreamErrors: Counter<'service' | 'stack' | 'target' | 'kind'>;
  private readonly switches: Counter<'service'>;
  private readonly mirrored: Counter<'service' | 'stack' | 'result'>;
  private readonly lastActive = new Map<string, string>();

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // These three are gauges named like counters, which promtool rejects; the same counts
    // stay available per type as nodejs_active_{handles,requests,resources}.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
    this.responses = new ResponseSeries(
      this.registry,
      { requests: 'switchyard_requests_total', duration: 'switchyard_request_duration_seconds' },
      { requests: 'Requests answered, by service, stack and status code.', duration: 'Time from request arrival to the end of the response.' },
      DURATION_BUCKETS,
    );
    this.upstreamErrors = new Counter({
      name: 'switchyard_upstream_errors_total',
      help: 'Failed upstream attempts, by kind (connect, timeout, reset, protocol, 5xx).',
      labelNames: ['service', 'stack', 'target', 'kind'],
      registers,
    });
    this.switches = new Counter({
      name: 'switchyard_switches_total',
      help: 'Switches and rollbacks, plus weight changes that moved the active stack.',
      labelNames: ['service'],
      registers,
    });
    this.mirrored = new Counter({
      name: 'switchyard_mirror_requests_total',
      help: 'Requests copied to a mirror stack, by result: answered, failed (no target, refused, reset, timed out) or dropped (over a limit).',
      labelNames: ['service', 'stack', 'result'],
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

  /** The plain response counts of one service/stack (what builtin rollout analysis reads). */
  series(service: string, stack: string): StackSeries {
    return this.responses.of(service, stack);
  }

  /** A meter with its children bound now, so the request path does no label lookups. */
  meterFor(service: string, stack: string): StackMeter {
    const series = this.responses.of(service, stack);
    const upstreamErrors = this.upstreamErrors;
    const errors = new Map<string, ReturnType<Counter['labels']>>();
    const mirrored = this.mirrored;
    const mirrors = new Map<MirrorResult, ReturnType<Counter['labels']>>();
    return {
      response(status: number, seconds: number) {
        series.record(status, seconds);
      },
      upstreamError(target: Target, kind: UpstreamErrorKind) {
        const key = `${target.address} ${kind}`;
        let child = errors.get(key);
        if (child === undefined) {
          child = upstreamErrors.labels(service, stack, target.address, kind);
          errors.set(key, child);
        }
        child.inc();
      },
      mirror(result: MirrorResult) {
        let child = mirrors.get(result);
        if (child === undefined) {
          child = mirrored.labels(service, stack, result);
          mirrors.set(result, child);
        }
        child.inc();
      },
    };
  }
}
