import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AcmeManager } from './acme/manager.js';
import { adminToken, createAdminServer } from './admin/server.js';
import { keepRestartOnly } from './config/reload-modes.js';
import type { Config } from './config/schema.js';
import { startDemoBackends } from './demo/backends.js';
import { EventBus } from './events/bus.js';
import { eventLog } from './events/log.js';
import { webhookListener } from './events/webhooks.js';
import { HealthChecker } from './health/checker.js';
import { Metrics } from './metrics/metrics.js';
import { splitHostPort } from './net/host-port.js';
import { NOOP_METER } from './pool/stack-meter.js';
import { DataPath } from './proxy/data-path.js';
import type { WebSocketRegistry } from './proxy/websocket.js';
import { RolloutRunner } from './rollout/runner.js';
import { StateController } from './state/controller.js';
import { FleetStateStore } from './state/etcd/fleet-store.js';
import type { FileStateStore } from './state/file-store.js';
import { createStateStore } from './state/open-store.js';
import { CertificateStore } from './tls/store.js';

/** A running switchyard: listeners, admin API, state. Construction and wiring only; each concern lives in its own module. */
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
  private readonly proxy: DataPath;
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
  ) {
    this.controller = controller;
    this.certificates = certificates;
    this.log = log;
    const fleet = store instanceof FleetStateStore ? store : undefined;
    this.fleet = fleet;
    const { events, currentConfig: config } = controller;
    const websockets = (service: string, stack: string) => this.proxy.websockets.count(service, stack);
    const metrics = config.metrics.enabled
      ? new Metrics({
          snapshot: () => controller.snapshot,
          websockets,
          certificates: () => certificates.list(),
          storeConnected: () => fleet?.connected ?? true,
        })
      : undefined;
    if (metrics) controller.useMeters((service, stack) => metrics.meterFor(service, stack));
    this.health = new HealthChecker(controller);
    this.rollouts = new RolloutRunner({ controller, counts: metrics ? (service, stack) => metrics.series(service, stack) : undefined, log });
    this.acme = new AcmeManager({ store: certificates, events, log, certsDir: config.certs_dir });
    const unmatched = metrics?.meterFor('_unmatched', 'none') ?? NOOP_METER;
    this.proxy = new DataPath({ controller, certificates, unmatched, challenges: this.acme.challenges, log });
    const hooks = webhookListener(() => controller.currentConfig.hooks, log);
    for (const listener of [eventLog(log), hooks, this.proxy.onEvent, ...(metrics ? [metrics.onEvent] : [])]) events.subscribe(listener);
    const defaultCerts = () => this.proxy.defaultCerts();
    const stopping = () => this.stopping;
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
      metrics: metrics?.registry,
      fleet,
      log,
    });
    this.admin = admin.app;
    this.closeEventStream = admin.closeEventStream;
  }

  /** Starts everything the config names; throws StartupError / StateFileError without starting anything. */
  static async start(config: Config, log: Logger): Promise<Switchyard> {
    const token = adminToken(config);
    const events = new EventBus();
    const store = createStateStore(config, log);
    let app: Switchyard;
    try {
      const controller = await StateController.open(config, store, log, { events });
      app = new Switchyard(controller, await CertificateStore.open(config.certs_dir, log, events), log, token, store);
    } catch (err) {
      if (store instanceof FleetStateStore) await store.close();
      throw err;
    }
    try {
      await app.followFleet();
      if (config.demo_backends) app.demo = await startDemoBackends(config, log);
      await app.health.start();
      await app.proxy.start(config);
      await app.admin.listen(splitHostPort(config.admin.listen));
      await app.acme.start(config);
      await app.fleet?.join(app.adminUrl);
      // Stored rollouts go on once traffic flows again (their analysis needs it).
      app.rollouts.start();
    } catch (err) {
      await app.stop(0);
      throw err;
    }
    log.info({ admin: app.adminUrl, listeners: app.proxy.ports() }, 'switchyard started');
    return app;
  }

  /** In a fleet: certificate changes go through etcd, others' changes come in (certificates installed before listeners open). */
  private async followFleet(): Promise<void> {
    const { fleet, controller, certificates } = this;
    if (!fleet) return;
    certificates.replicateTo(fleet);
    await fleet.follow({
      services: (changes, full) => controller.applyRemote(changes, full),
      certificates: async (name, pem, origin) => {
        // Another instance's listeners decided that removal; here the certificate is a listener's default.
        if (pem === undefined && this.proxy.defaultCerts().has(name)) {
          this.log.warn({ certificate: name, origin }, 'certificate removed in the fleet is a default_cert here; kept');
          return;
        }
        await certificates.applyRemote(name, pem, origin);
      },
      config: () => controller.currentConfig,
    });
  }

  /** Base URL of the admin API. */
  get adminUrl(): string {
    const address = this.admin.server.address() as AddressInfo;
    return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  }

  /** Open proxied WebSockets per service and stack. */
  get websockets(): WebSocketRegistry {
    return this.proxy.websockets;
  }

  /** Bound port of a listener, by name. */
  port(listener: string): number {
    return this.proxy.port(listener);
  }

  /**
   * Applies a new config (SIGHUP), all or nothing: new listeners are bound first and the
   * routing swaps in one step; a failure leaves the running config whole. Restart-only
   * keys keep their running value, each change logged with both values.
   */
  async reload(next: Config): Promise<void> {
    const { config, kept } = keepRestartOnly(this.controller.currentConfig, next);
    const proxy = this.proxy.reloadStep(config);
    const commit = () => {
      proxy.commit();
      this.acme.reload(config);
      this.log.level = config.logging.level;
    };
    await this.controller.reload(config, { prepare: () => proxy.prepare(), commit });
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
    await this.proxy.close(timeout);
    await this.admin.close();
    await Promise.all(this.demo.map((s) => new Promise((resolve) => s.close(resolve))));
    this.demo = [];
    // Last: leaving the fleet revokes the member lease, so ?wait=all elsewhere stops waiting for this instance.
    await this.fleet?.close();
  }
}
