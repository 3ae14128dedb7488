import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { AcmeManager } from './acme/manager.js';
import { keepRestartOnly, warnKept } from './config/reload-modes.js';
import type { Config } from './config/schema.js';
import { type ControlPlane, openControlPlane, reloadStep } from './control-plane.js';
import type { DataPlane, DataPlaneFactory } from './data-plane.js';
import { startDemoBackends } from './demo/backends.js';
import { followFleet } from './fleet-link.js';
import { inProcess } from './in-process.js';
import { splitHostPort } from './net/host-port.js';
import type { RolloutRunner } from './rollout/runner.js';
import type { StateController } from './state/controller.js';
import { LOCALHOST_NAMES } from './tls/self-signed.js';
import { type CertificateStore, ensureSelfSigned } from './tls/store.js';

/**
 * A running switchyard: the control plane (state, health checks, certificates, admin API,
 * metrics, webhooks) and a data plane serving clients, in this process or in workers.
 * Startup, reload and stop in their order; the parts are built in src/control-plane.ts.
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
  private demo: Server[] = [];
  private stopping = false;

  private constructor(private readonly parts: ControlPlane) {
    this.controller = parts.controller;
    this.certificates = parts.certificates;
    this.admin = parts.admin;
    this.rollouts = parts.rollouts;
    this.acme = parts.acme;
    this.log = parts.log;
  }

  /**
   * Starts everything the config names, serving from this process unless `plane` says
   * otherwise; throws StartupError / StateFileError without starting anything.
   */
  static async start(config: Config, log: Logger, plane: DataPlaneFactory = inProcess): Promise<Switchyard> {
    // /healthz reads `stopping` of the switchyard, built once the parts are.
    let app: Switchyard | undefined;
    const parts = await openControlPlane(config, log, plane, () => app?.stopping ?? false);
    app = new Switchyard(parts);
    const { fleet, health, plane: data } = parts;
    try {
      if (fleet) await followFleet(fleet, { controller: app.controller, certificates: app.certificates, defaultCerts: () => data.defaultCerts(), log });
      if (config.demo_backends) app.demo = await startDemoBackends(config, log);
      for (const listener of config.listeners) {
        if (listener.tls && listener.default_cert !== undefined) await ensureSelfSigned(app.certificates, listener.default_cert, LOCALHOST_NAMES);
      }
      await health.start();
      await data.start(config);
      await app.admin.listen(splitHostPort(config.admin.listen));
      await app.acme.start(config);
      await fleet?.join(app.adminUrl);
      // Stored rollouts go on once traffic flows again (their analysis needs it).
      app.rollouts.start();
    } catch (err) {
      await app.stop(0);
      throw err;
    }
    log.info({ admin: app.adminUrl, listeners: data.ports() }, 'switchyard started');
    return app;
  }

  /** Base URL of the admin API. */
  get adminUrl(): string {
    const address = this.admin.server.address() as AddressInfo;
    return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  }

  /** Open proxied WebSockets per service and stack. */
  get websockets(): DataPlane['websockets'] {
    return this.parts.plane.websockets;
  }

  /** Bound port of a listener, by name. */
  port(listener: string): number {
    return this.parts.plane.port(listener);
  }

  /**
   * Applies a new config (SIGHUP), all or nothing: new listeners are bound first and the
   * routing swaps in one step; a failure leaves the running config whole. Restart-only
   * keys keep their running value, each change logged with both values.
   */
  async reload(next: Config): Promise<void> {
    const { config, kept } = keepRestartOnly(this.controller.currentConfig, next);
    await this.controller.reload(config, reloadStep(this.parts, config));
    warnKept(this.log, kept);
  }

  /** Graceful stop: /healthz turns 503, listeners stop accepting, in-flight requests finish (up to `timeout` ms). */
  async stop(timeout = this.controller.currentConfig.shutdown_timeout): Promise<void> {
    this.stopping = true;
    this.rollouts.stop();
    this.parts.health.stop();
    this.acme.stop();
    this.parts.closeEventStream();
    await this.parts.plane.close(timeout);
    await this.admin.close();
    await Promise.all(this.demo.map((s) => new Promise((resolve) => s.close(resolve))));
    this.demo = [];
    // Last: leaving the fleet revokes the member lease, so ?wait=all elsewhere stops waiting for this instance.
    await this.parts.fleet?.close();
  }
}
