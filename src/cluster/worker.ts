import type { Logger } from 'pino';
import { ChallengeResponder } from '../acme/challenges.js';
import type { Config } from '../config/schema.js';
import { messageOf } from '../errors.js';
import type { SwitchyardEvent } from '../events/bus.js';
import { exitOnUncaught } from '../fatal.js';
import { createLogger } from '../log.js';
import { DURATION_BUCKETS, ResponseCounters } from '../metrics/stack-series.js';
import { type MeterFactory, NOOP_METER } from '../pool/stack-meter.js';
import { DataPath } from '../proxy/data-path.js';
import { SerialQueue } from '../serial-queue.js';
import type { ReloadStep } from '../state/controller.js';
import { CertificateMirror } from './certificate-mirror.js';
import { type FromWorker, isMessage, type ToWorker, type WorkerReport } from './protocol.js';
import { RoutingReplica } from './routing-replica.js';
import { healthOf, type RoutingWire } from './snapshot-wire.js';
import { pushDelay, stallsRouting } from './test-hooks.js';

/** How often a worker reports counts that changed without being asked: what a kill -9 can lose at most. */
const REPORT_INTERVAL = 1000;

type Init = Extract<ToWorker, { t: 'init' }>;

/** Sends to the primary; a message that cannot go (the primary is gone) is dropped. */
function send(message: FromWorker, then?: () => void): void {
  if (!process.connected || process.send === undefined) {
    then?.();
    return;
  }
  process.send(message, undefined, {}, () => then?.());
}

/**
 * One worker process: the request path (DataPath) reading routing and certificates from
 * replicas the primary feeds. It listens only after applying the primary's first message;
 * applies each push in one step and acknowledges it; reports counts, passive ejections and
 * failovers; drains and exits when the primary says so, or when the primary is gone.
 */
export class WorkerProcess {
  private readonly id: number;
  private readonly incarnation: number;
  private readonly log: Logger;
  private readonly routing: RoutingReplica;
  private readonly certificates: CertificateMirror;
  private readonly challenges = new ChallengeResponder();
  private readonly counters: ResponseCounters | undefined;
  private readonly path: DataPath;
  /** Reloads wait for the start and for each other. */
  private readonly queue = new SerialQueue();
  /** Listeners a reload bound; committed with the routing push that carries its config. */
  private pendingReload: ReloadStep | undefined;
  private readonly reporter: NodeJS.Timeout;
  /** Test hook (see test-hooks.ts): ms each routing or certificate push waits before it is applied. */
  private readonly delay = pushDelay();
  private lastWebSockets = '';
  private stopping = false;

  constructor(init: Init, config: Config, log: Logger) {
    this.id = init.id;
    this.incarnation = init.incarnation;
    this.log = log;
    const counters = config.metrics.enabled ? new ResponseCounters(DURATION_BUCKETS) : undefined;
    this.counters = counters;
    const meters: MeterFactory = counters ? (service, stack) => counters.meterFor(service, stack) : () => NOOP_METER;
    this.routing = new RoutingReplica(init.routing, meters);
    this.certificates = new CertificateMirror(log);
    for (const change of init.certificates) this.certificates.apply(change);
    for (const change of init.challenges) this.challenges.apply(change);
    this.challenges.log = log;
    const responseHeaders = config.debug.worker_header ? ['X-Switchyard-Worker', String(this.id)] : undefined;
    const unmatched = counters?.meterFor('_unmatched', 'none') ?? NOOP_METER;
    const { routing, certificates, challenges } = this;
    this.path = new DataPath({ controller: routing, certificates, unmatched, challenges, responseHeaders, log });
    this.routing.events.subscribe(this.path.onEvent);
    this.routing.events.subscribe(this.forward);
    this.reporter = setInterval(() => this.reportChanges(), REPORT_INTERVAL);
    this.reporter.unref();
  }

  /** Binds the listeners (cluster shares the ports) and tells the primary; a failure is reported and ends the process. */
  start(config: Config): Promise<void> {
    return this.queue.run(async () => {
      try {
        await this.path.start(config);
      } catch (err) {
        send({ t: 'failed', message: messageOf(err) }, () => process.exit(1));
        return;
      }
      send({ t: 'ready', ports: this.path.ports() });
    });
  }

  /** Handles one message of the primary. */
  readonly onMessage = (message: unknown): void => {
    if (!isMessage<ToWorker>(message)) return;
    switch (message.t) {
      case 'routing':
        this.later(() => this.applyRouting(message.seq, message.routing));
        return;
      case 'certificate':
        this.later(() => {
          this.certificates.apply(message.change, true);
          this.ack(message.seq);
        });
        return;
      case 'challenge':
        this.challenges.apply(message.change);
        this.ack(message.seq);
        return;
      case 'target':
        this.routing.setHealth(message.health);
        return;
      case 'event':
        this.routing.events.publish(message.event);
        return;
      case 'reload':
        void this.queue.run(() => this.prepareReload(message.seq, message.config));
        return;
      case 'report':
        send({ t: 'report', seq: message.seq, report: this.report() });
        return;
      case 'stop':
        void this.stop(message.timeout);
        return;
      case 'init':
        return;
      default:
        message satisfies never;
    }
  };

  /** Runs a push now, or after the test hook's delay (in order either way). */
  private later(apply: () => void): void {
    if (this.delay === 0) apply();
    else setTimeout(apply, this.delay);
  }

  /** Drains (in-flight requests get `timeout` ms), sends the last counts and exits 0. */
  async stop(timeout: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.reporter);
    await this.path.close(timeout);
    send({ t: 'report', seq: undefined, report: this.report() }, () => process.exit(0));
  }

  /** A new snapshot goes live in one swap, then is acknowledged; with a new config the reload's listeners are committed first. */
  private applyRouting(seq: number, wire: RoutingWire): void {
    if (stallsRouting(this.id, this.incarnation)) return;
    this.routing.apply(wire);
    const config = wire.config;
    if (config === undefined) {
      this.ack(seq);
      return;
    }
    this.log.level = config.logging.level;
    void this.queue.run(async () => {
      // A worker started during a reload holds no prepared step for it: it binds what the config adds now.
      const step = this.pendingReload ?? this.path.reloadStep(config);
      try {
        if (this.pendingReload === undefined) await step.prepare();
        step.commit();
      } catch (err) {
        this.log.error({ err: messageOf(err) }, 'listeners of the new config could not be bound');
      }
      this.pendingReload = undefined;
      this.ack(seq, undefined, this.path.ports());
    });
  }

  private async prepareReload(seq: number, config: Config): Promise<void> {
    const step = this.path.reloadStep(config);
    try {
      await step.prepare();
    } catch (err) {
      this.ack(seq, messageOf(err));
      return;
    }
    this.pendingReload = step;
    this.ack(seq);
  }

  private ack(seq: number, error?: string, ports?: Record<string, number>): void {
    const generation = this.routing.snapshot.generation;
    send({ t: 'ack', seq, generation, ...(error === undefined ? {} : { error }), ...(ports === undefined ? {} : { ports }) });
  }

  /** Passive ejections and failovers go to the primary (it applies ejections in every worker and publishes both). */
  private readonly forward = (event: SwitchyardEvent): void => {
    if (event.type === 'failover') send({ t: 'event', event });
    else if (event.type === 'health' && event.source === 'passive' && !event.healthy) {
      const target = this.routing.target(event);
      if (target !== undefined) send({ t: 'ejected', health: healthOf(target) });
    }
  };

  private report(): WorkerReport {
    return {
      counts: this.counters?.changed() ?? [],
      websockets: this.openWebSockets(),
      requests: this.counters?.responses() ?? null,
      generation: this.routing.snapshot.generation,
    };
  }

  /** Sends what changed since the last report, if anything did. */
  private reportChanges(): void {
    const report = this.report();
    const websockets = JSON.stringify(report.websockets);
    if (report.counts.length === 0 && websockets === this.lastWebSockets) return;
    this.lastWebSockets = websockets;
    send({ t: 'report', seq: undefined, report });
  }

  private openWebSockets(): [string, string, number][] {
    const open: [string, string, number][] = [];
    for (const route of this.routing.snapshot.services.values()) {
      for (const pool of route.pools) {
        const n = this.path.websockets.count(route.name, pool.name);
        if (n > 0) open.push([route.name, pool.name, n]);
      }
    }
    return open;
  }
}

/**
 * The body of a worker process: waits for the primary's first message, then serves. The
 * primary alone decides on signals (SIGTERM, SIGINT and SIGHUP reach a terminal's whole
 * process group); a worker whose primary is gone drains and exits.
 */
export function runWorker(): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);
  const orphaned = () => process.exit(0);
  process.once('disconnect', orphaned);
  process.once('message', (message: unknown) => {
    if (!isMessage<ToWorker>(message) || message.t !== 'init' || message.routing.config === undefined) {
      process.stderr.write('worker: the first message from the primary is not an init\n');
      process.exit(1);
    }
    const config = message.routing.config;
    const log = createLogger(config.logging.level).child({ worker: message.id });
    exitOnUncaught(log);
    const worker = new WorkerProcess(message, config, log);
    process.on('message', worker.onMessage);
    process.off('disconnect', orphaned);
    process.once('disconnect', () => void worker.stop(config.shutdown_timeout));
    void worker.start(config);
  });
  send({ t: 'hello' });
}
