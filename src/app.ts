import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createAdminApp } from './admin/app.js';
import { hostOfHeader, isLoopbackHost } from './admin/guards.js';
import { registerCertificateRoutes } from './admin/routes/certificates.js';
import { attachEventStream } from './admin/routes/events.js';
import { registerServiceRoutes } from './admin/routes/services.js';
import type { Config, ListenerConfig } from './config/schema.js';
import { startDemoBackends } from './demo/backends.js';
import { webhookListener } from './events/webhooks.js';
import { HealthChecker } from './health/checker.js';
import { Metrics } from './metrics/metrics.js';
import { PassiveHealth } from './health/passive.js';
import { RequestHandler, type ListenerRouting } from './proxy/handler.js';
import { RawForwarder } from './proxy/raw-forwarder.js';
import type { Forwarder } from './proxy/exchange.js';
import { ProxyListener } from './proxy/listener.js';
import { WebSocketProxy, WebSocketRegistry } from './proxy/websocket.js';
import { StateController } from './state/controller.js';
import { FileStateStore } from './state/file-store.js';
import { LOCALHOST_NAMES } from './tls/self-signed.js';
import { hstsHeaderValue, tlsServerOptions, trackDefaultCertificate } from './tls/server-options.js';
import { CertificateStore, ensureSelfSigned } from './tls/store.js';

/** Raised when the config cannot be served (e.g. a public admin without a token). */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

/** A running switchyard: listeners, admin API, state. */
export class Switchyard {
  readonly controller: StateController;
  readonly admin: FastifyInstance;
  readonly log: Logger;
  readonly websockets = new WebSocketRegistry();
  readonly certificates: CertificateStore;
  private readonly forwarder: Forwarder;
  private readonly health: HealthChecker;
  /** Last failover notice per service, epoch ms (rate limit). */
  private readonly failoverNoticed = new Map<string, number>();
  private readonly closeEventStream: () => void;
  private readonly metrics: Metrics | undefined;
  private readonly wsProxy: WebSocketProxy;
  private readonly listeners = new Map<string, ProxyListener>();
  /** Unsubscribe functions of TLS listeners following their default_cert. */
  private readonly tlsTracking = new Map<string, () => void>();
  private demo: Server[] = [];
  private stopping = false;
  private readonly drainTimers = new Set<NodeJS.Timeout>();

  private constructor(controller: StateController, certificates: CertificateStore, log: Logger, token: string | undefined) {
    this.controller = controller;
    this.certificates = certificates;
    this.log = log;
    const config = controller.currentConfig;
    const passive = new PassiveHealth({ failures: config.upstream.max_fails, cooldown: config.upstream.fail_timeout });
    passive.onEject = (target) => {
      log.warn({ service: target.service, stack: target.stack, target: target.address }, 'target ejected after consecutive failures');
      controller.events.publish({
        type: 'health',
        time: new Date().toISOString(),
        service: target.service,
        stack: target.stack,
        target: target.address,
        healthy: false,
        source: 'passive',
        error: 'ejected after consecutive failures',
      });
    };
    this.health = new HealthChecker(controller, log);
    this.forwarder = new RawForwarder(
      {
        idleTimeout: config.upstream.idle_timeout,
        maxSockets: config.upstream.max_sockets,
        requestBuffer: config.limits.request_buffer,
        requestBufferTotal: config.limits.request_buffer_total,
        sendTimeout: config.limits.send_timeout,
      },
      passive,
    );
    this.wsProxy = new WebSocketProxy(controller, this.websockets, log);
    this.admin = createAdminApp({ token, loopback: isLoopbackHost(hostOfHeader(config.admin.listen)), bodyLimit: config.admin.body_limit, log });
    this.admin.get('/healthz', async (_request, reply) => {
      if (this.stopping) return reply.code(503).send({ status: 'stopping' });
      return { status: 'ok', generation: this.controller.snapshot.generation };
    });
    registerServiceRoutes(this.admin, {
      controller,
      websockets: (service, stack) => this.websockets.count(service, stack),
      expiringCertificates: () =>
        certificates
          .list()
          .filter((c) => c.expires_soon)
          .map((c) => c.name),
    });
    this.closeEventStream = attachEventStream({
      server: this.admin.server,
      events: controller.events,
      token,
      loopback: isLoopbackHost(hostOfHeader(config.admin.listen)),
    });
    controller.events.subscribe(webhookListener(() => this.controller.currentConfig.hooks, log));
    if (config.metrics.enabled) {
      const metrics = new Metrics({
        controller,
        websockets: (service, stack) => this.websockets.count(service, stack),
        certificates: () => certificates.list(),
      });
      this.metrics = metrics;
      controller.useMeters((service, stack) => metrics.meterFor(service, stack));
      controller.events.subscribe(metrics.onEvent);
      this.admin.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
    }
    registerCertificateRoutes(this.admin, { store: certificates, defaultCerts: () => this.defaultCerts(), events: controller.events });
    controller.events.subscribe((event) => {
      if (event.type === 'switch' || event.type === 'weights' || event.type === 'rollback') {
        log.info({ event }, `${event.type}: ${event.service} → ${event.active}`);
        this.scheduleDrain(event.service);
      }
    });
  }

  /** Starts everything the config names; throws StartupError / StateFileError without starting anything. */
  static async start(config: Config, log: Logger): Promise<Switchyard> {
    const [adminHost] = splitHostPort(config.admin.listen);
    const token = process.env[config.admin.token_env] || undefined;
    if (!token && !isLoopbackHost(adminHost)) {
      throw new StartupError(`admin.listen ${config.admin.listen} is not loopback: set ${config.admin.token_env} to a token`);
    }
    const controller = await StateController.open(config, new FileStateStore(config.state.path, log), log);
    const certificates = await CertificateStore.open(config.certs_dir, log);
    for (const listener of config.listeners) {
      // First start: a TLS listener whose default_cert is missing gets a self-signed localhost one.
      if (listener.tls && listener.default_cert !== undefined) await ensureSelfSigned(certificates, listener.default_cert, LOCALHOST_NAMES);
    }
    const app = new Switchyard(controller, certificates, log, token);
    try {
      if (config.demo_backends) app.demo = await startDemoBackends(config, log);
      await app.health.start();
      for (const listener of config.listeners) await app.openListener(listener);
      const [host, port] = splitHostPort(config.admin.listen);
      await app.admin.listen({ host, port });
    } catch (err) {
      await app.stop(0);
      throw err;
    }
    log.info({ admin: app.adminUrl, listeners: Object.fromEntries([...app.listeners].map(([n, l]) => [n, l.port])) }, 'switchyard started');
    return app;
  }

  /** Base URL of the admin API. */
  get adminUrl(): string {
    const address = this.admin.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  /** Bound port of a listener, by name. */
  port(listener: string): number {
    const found = this.listeners.get(listener);
    if (!found) throw new Error(`no listener ${listener}`);
    return found.port;
  }

  /** Applies a new config (SIGHUP): routing swaps; listeners are added/removed, untouched ones keep their connections. */
  async reload(config: Config): Promise<void> {
    await this.controller.reload(config);
    const wanted = new Map(config.listeners.map((l) => [l.name, l]));
    for (const [name, listener] of this.listeners) {
      const next = wanted.get(name);
      if (!next || JSON.stringify(next) !== JSON.stringify(listener.config)) {
        this.listeners.delete(name);
        this.tlsTracking.get(name)?.();
        this.tlsTracking.delete(name);
        await listener.close(config.shutdown_timeout);
      }
    }
    for (const listener of config.listeners) if (!this.listeners.has(listener.name)) await this.openListener(listener);
  }

  /** Graceful stop: /healthz turns 503, listeners stop accepting, in-flight requests finish (up to `timeout` ms). */
  async stop(timeout = this.controller.currentConfig.shutdown_timeout): Promise<void> {
    this.stopping = true;
    this.health.stop();
    this.closeEventStream();
    for (const timer of this.drainTimers) clearTimeout(timer);
    await Promise.all([...this.listeners.values()].map((l) => l.close(timeout)));
    this.listeners.clear();
    for (const untrack of this.tlsTracking.values()) untrack();
    this.tlsTracking.clear();
    this.wsProxy.close();
    this.forwarder.close();
    await this.admin.close();
    await Promise.all(this.demo.map((s) => new Promise((resolve) => s.close(resolve))));
    this.demo = [];
  }

  private async openListener(config: ListenerConfig): Promise<void> {
    const hsts = config.tls ? hstsHeaderValue(config) : undefined;
    const routing: ListenerRouting = {
      proto: config.tls ? 'https' : 'http',
      port: String(config.port),
      routeToStandby: config.route_to === 'standby',
      responseHeaders: hsts === undefined ? undefined : ['Strict-Transport-Security', hsts],
    };
    const handler = new RequestHandler(this.controller, this.forwarder, routing);
    if (this.metrics) handler.unmatchedMeter = this.metrics.meterFor('_unmatched', 'none');
    if (this.controller.currentConfig.logging.access_log) handler.accessLog = this.log.child({ listener: config.name });
    handler.onFailover = (route, from, to) => {
      // Every request of an outage fails over: log and publish at most once a second per service.
      const now = Date.now();
      if ((this.failoverNoticed.get(route.name) ?? 0) > now - 1000) return;
      this.failoverNoticed.set(route.name, now);
      this.log.warn({ service: route.name, from: from.name, to: to.name }, 'failover: active stack has no healthy target');
      this.controller.events.publish({ type: 'failover', time: new Date(now).toISOString(), service: route.name, from: from.name, to: to.name });
    };
    const tls = config.tls ? tlsServerOptions(this.certificates, config) : undefined;
    const listener = new ProxyListener(
      config,
      this.controller.currentConfig.limits,
      handler,
      (req, socket, head) => this.wsProxy.handle(routing, req, socket, head),
      tls,
    );
    if (listener.h2) listener.h2.onFlood = (client, resets) => this.log.warn({ listener: config.name, client, resets }, 'HTTP/2 connection cut: rapid reset');
    if (config.tls) {
      this.tlsTracking.set(config.name, trackDefaultCertificate(listener.server as HttpsServer, this.certificates, config));
      // Scanners and plain-HTTP clients on a TLS port fail handshakes all day: not worth more than debug.
      listener.server.on('tlsClientError', (err: Error) => this.log.debug({ err, listener: config.name }, 'TLS handshake failed'));
    }
    const port = await listener.listen();
    if (config.port === 0) (routing as { port: string }).port = String(port);
    this.listeners.set(config.name, listener);
  }

  /** Certificate names that are some TLS listener's default_cert (cannot be deleted). */
  private defaultCerts(): ReadonlySet<string> {
    return new Set(this.controller.currentConfig.listeners.flatMap((l) => (l.tls && l.default_cert !== undefined ? [l.default_cert] : [])));
  }

  /** After a weight change, close WebSockets on stacks that lost all weight once `websocket_drain` has passed. */
  private scheduleDrain(service: string): void {
    const drain = this.controller.snapshot.services.get(service)?.config.websocket_drain;
    if (drain === undefined) return;
    const timer = setTimeout(() => {
      this.drainTimers.delete(timer);
      const route = this.controller.snapshot.services.get(service);
      if (!route) return;
      const keep = new Set(route.pools.filter((_, i) => (route.weights[i] ?? 0) > 0).map((p) => p.name));
      const closed = this.websockets.drain(service, keep);
      if (closed) this.log.info({ service, closed }, 'websockets drained after switch');
    }, drain);
    this.drainTimers.add(timer);
  }
}

/** Splits `host:port` (IPv6 in brackets). */
export function splitHostPort(value: string): [string, number] {
  const colon = value.lastIndexOf(':');
  const host = value.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return [host, Number(value.slice(colon + 1))];
}
