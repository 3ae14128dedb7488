import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AcmeManager } from './acme/manager.js';
import { adminToken, createAdminServer } from './admin/server.js';
import { keepRestartOnly } from './config/reload-modes.js';
import type { Config } from './config/schema.js';
import type { DataPlane, DataPlaneFactory } from './data-plane.js';
import { startDemoBackends } from './demo/backends.js';
import { EventBus } from './events/bus.js';
import { followFleet } from './fleet-link.js';
import { eventLog } from './events/log.js';
import { webhookListener } from './events/webhooks.js';
import { HealthChecker } from './health/checker.js';
import { inProcess, singleProcess } from './in-process.js';
import { Metrics } from './metrics/metrics.js';
import { splitHostPort } from './net/host-port.js';
import type { CountsSource } from './rollout/analysis-builtin.js';
import { RolloutRunner } from './rollout/runner.js';
import { StateController } from './state/controller.js';
import { FleetStateStore } from './state/etcd/fleet-store.js';
import type { FileStateStore } from './state/file-store.js';
import { createStateStore } from './state/open-store.js';
import { LOCALHOST_NAMES } from './tls/self-signed.js';
import { CertificateStore, ensureSelfSigned } from './tls/store.js';

/**
 * A running switchyard: the control plane (state, health checks, certificates, admin API,
 * metrics, webhooks) and a data plane serving clients, in this process or in workers.
 * Construction and wiring only; each concern lives in its own module.
 */
export class Switchyard {
  readonly controller: StateController;
  readonly certificates: CertificateStore;
  readonly log: Logger;
  readonly admin: FastifyInstance;
  /** Rollouts of every service (SPEC §10). */
  readonly rollouts: RolloutRunner;
  /** ACME certificates: orders, renewals, http-01 answers. */
  readonly acme: AcmeManager;
  private readonly health: HealthChecker;
  private readonly plane: DataPlane;
  private readonly closeEventStream: () => void;
  /** The fleet's shared state, when `state.store` is etcd. */
  private readonly fleet: FleetStateStore | undefined;
  private demo: Server[] = [];
  private stopping = false;

  private constructor(
    controller: StateController,
    certificates: CertificateStore,
    log: Logger,
    token: string | undefined,
    store: FileStateStore | FleetStateStore,
    plane: DataPlaneFactory,
  ) {
    this.controller = controller;
    this.certificates = certificates;
    this.log = log;
    const fleet = store instanceof FleetStateStore ? store : undefined;
    this.fleet = fleet;
    const { events, currentConfig: config } = controller;
    const websockets = (service: string, stack: string) => this.plane.websockets.count(service, stack);
    const refresh = () => this.plane.refreshCounts?.() ?? Promise.resolve();
    const metrics = config.metrics.enabled
      ? new Metrics({
          snapshot: () => controller.snapshot,
          websockets,
          certificates: () => certificates.list(),
          storeConnected: () => fleet?.connected ?? true,
          refresh,
        })
      : undefined;
    this.health = new HealthChecker(controller);
    this.rollouts = new RolloutRunner({ controller, counts: metrics ? rolloutCounts(metrics) : undefined, log });
    this.acme = new AcmeManager({ store: certificates, events, log, certsDir: config.certs_dir, fleet: fleet?.acmeFleet() });
    this.plane = plane({ controller, certificates, metrics, challenges: this.acme.challenges, log });
    const hooks = webhookListener(() => controller.currentConfig.hooks, log);
    const onPlane = this.plane.onEvent;
    for (const listener of [eventLog(log), hooks, ...(onPlane ? [onPlane] : []), ...(metrics ? [metrics.onEvent] : [])]) events.subscribe(listener);
    const defaultCerts = () => this.plane.defaultCerts();
    const stopping = () => this.stopping;
    const workers = () => this.plane.workers?.() ?? Promise.resolve(singleProcess(controller, metrics, this.stopping));
    const admin = createAdminServer({
      config,
      token,
      controller,
      rollouts: this.rollouts,
      certificates,
      acme: this.acme,
      websockets,
      defaultCerts,
      stopping,
      metrics,
      workers,
      fleet,
      log,
    });
    this.admin = admin.app;
    this.closeEventStream = admin.closeEventStream;
  }

  /**
   * Starts everything the config names, serving from this process unless `plane` says
   * otherwise; throws StartupError / StateFileError without starting anything.
   */
  static async start(config: Config, log: Logger, plane: DataPlaneFactory = inProcess): Promise<Switchyard> {
    const token = adminToken(config);
    const events = new EventBus();
    const store = createStateStore(config, log);
    let app: Switchyard;
    try {
      const controller = await StateController.open(config, store, log, { events });
      app = new Switchyard(controller, await CertificateStore.open(config.certs_dir, log, events), log, token, store, plane);
    } catch (err) {
      if (store instanceof FleetStateStore) await store.close();
      throw err;
    }
    try {
      if (app.fleet)
        await followFleet(app.fleet, { controller: app.controller, certificates: app.certificates, defaultCerts: () => app.plane.defaultCerts(), log });
      if (config.demo_backends) app.demo = await startDemoBackends(config, log);
      for (const listener of config.listeners) {
        if (listener.tls && listener.default_cert !== undefined) await ensureSelfSigned(app.certificates, listener.default_cert, LOCALHOST_NAMES);
      }
      await app.health.start();
      await app.plane.start(config);
      await app.admin.listen(splitHostPort(config.admin.listen));
      await app.acme.start(config);
      await app.fleet?.join(app.adminUrl);
      // Stored rollouts go on once traffic flows again (their analysis needs it).
      app.rollouts.start();
    } catch (err) {
      await app.stop(0);
      throw err;
    }
    log.info({ admin: app.adminUrl, listeners: app.plane.ports() }, 'switchyard started');
    return app;
  }

  /** Base URL of the admin API. */
  get adminUrl(): string {
    const address = this.admin.server.address() as AddressInfo;
    return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  }

  /** Open proxied WebSockets per service and stack. */
  get websockets(): DataPlane['websockets'] {
    return this.plane.websockets;
  }

  /** Bound port of a listener, by name. */
  port(listener: string): number {
    return this.plane.port(listener);
  }

  /**
   * Applies a new config (SIGHUP), all or nothing: new listeners are bound first and the
   * routing swaps in one step; a failure leaves the running config whole. Restart-only
   * keys keep their running value, each change logged with both values.
   */
  async reload(next: Config): Promise<void> {
    const { config, kept } = keepRestartOnly(this.controller.currentConfig, next);
    const plane = this.plane.reloadStep(config);
    const commit = () => {
      plane.commit();
      this.acme.reload(config);
      this.log.level = config.logging.level;
    };
    await this.controller.reload(config, { prepare: () => plane.prepare(), commit });
    for (const { key, running, next: wanted } of kept) {
      this.log.warn({ key, running, new: wanted }, `${key} changes only on restart: keeping ${JSON.stringify(running)}, not ${JSON.stringify(wanted)}`);
    }
  }

  /** Graceful stop: /healthz turns 503, listeners stop accepting, in-flight requests finish (up to `timeout` ms). */
  async stop(timeout = this.controller.currentConfig.shutdown_timeout): Promise<void> {
    this.stopping = true;
    this.rollouts.stop();
    this.health.stop();
    this.acme.stop();
    this.closeEventStream();
    await this.plane.close(timeout);
    await this.admin.close();
    await Promise.all(this.demo.map((s) => new Promise((resolve) => s.close(resolve))));
    this.demo = [];
    // Last: leaving the fleet revokes the member lease, so ?wait=all elsewhere stops waiting for this instance.
    await this.fleet?.close();
  }
}

/** What builtin rollout analysis reads: a stack's response counts, brought up to date first (with workers, their latest reports). */
function rolloutCounts(metrics: Metrics): CountsSource {
  return async (service, stack) => {
    await metrics.refresh();
    const series = metrics.counters.of(service, stack);
    return { codes: series.codes, buckets: series.buckets, bounds: metrics.counters.bounds, count: series.count };
  };
}
