import type { Logger } from 'pino';
import type { ChallengeResponder } from '../acme/challenges.js';
import type { Config } from '../config/schema.js';
import { PassiveHealth, type PassiveOptions } from '../health/passive.js';
import type { StackMeter } from '../pool/stack-meter.js';
import type { ReloadStep } from '../state/controller.js';
import type { RoutingSource } from '../state/routing-source.js';
import type { CertificateProvider } from '../tls/provider.js';
import type { Forwarder } from './exchange.js';
import { FailoverNotices } from './failover.js';
import { ListenerSet } from './listener-set.js';
import { Mirror } from './mirror.js';
import { RawForwarder } from './raw-forwarder.js';
import { WebSocketProxy, WebSocketRegistry } from './websocket.js';
import { WebSocketDrain } from './websocket-drain.js';

/** What the request path needs from the rest of the process. */
export interface DataPathDeps {
  readonly controller: RoutingSource;
  readonly certificates: CertificateProvider;
  /** Counts requests that match no service. */
  readonly unmatched: StackMeter;
  /** Header name/value pairs, flat, added to every proxied response (the worker id header of `debug.worker_header`). */
  readonly responseHeaders?: readonly string[] | undefined;
  /** ACME http-01 answers, checked before routing on plain-HTTP listeners. */
  readonly challenges: ChallengeResponder;
  readonly log: Logger;
}

function passiveOptions(config: Config): PassiveOptions {
  return { failures: config.upstream.max_fails, cooldown: config.upstream.fail_timeout };
}

/**
 * Everything a client request goes through: the listeners, the forwarding engine and
 * its passive health, WebSocket proxying and draining, failover notices. Reads routing
 * from the controller; publishes on its event bus.
 */
export class DataPath {
  /** Open proxied WebSockets per service and stack. */
  readonly websockets = new WebSocketRegistry();
  private readonly passive: PassiveHealth;
  private readonly forwarder: Forwarder;
  private readonly wsProxy: WebSocketProxy;
  private readonly drain: WebSocketDrain;
  private readonly listeners: ListenerSet;
  private readonly mirror = new Mirror();

  constructor(deps: DataPathDeps) {
    const { controller, certificates, log } = deps;
    const config = controller.currentConfig;
    this.passive = new PassiveHealth(passiveOptions(config), controller.events);
    this.forwarder = new RawForwarder(
      {
        idleTimeout: config.upstream.idle_timeout,
        maxSockets: config.upstream.max_sockets,
        requestBuffer: config.limits.request_buffer,
        requestBufferTotal: config.limits.request_buffer_total,
        sendTimeout: config.limits.send_timeout,
        responseSpool: config.limits.response_spool,
        responseSpoolTotal: config.limits.response_spool_total,
      },
      this.passive,
    );
    this.wsProxy = new WebSocketProxy(controller, this.websockets, log);
    this.drain = new WebSocketDrain(() => controller.snapshot, this.websockets, log);
    const failover = new FailoverNotices(controller.events);
    this.listeners = new ListenerSet({
      controller,
      forwarder: this.forwarder,
      websockets: this.wsProxy,
      certificates,
      failover,
      unmatched: deps.unmatched,
      mirror: this.mirror,
      responseHeaders: deps.responseHeaders,
      challenges: deps.challenges,
      log,
    });
  }

  /** Subscribe this to the event bus (WebSocket drains follow weight changes). */
  get onEvent(): WebSocketDrain['onEvent'] {
    return this.drain.onEvent;
  }

  /** Binds every listener (the control plane has made sure each default_cert exists). */
  async start(config: Config): Promise<void> {
    await this.listeners.start(config);
  }

  /** The request path's part of a reload: listeners (see ListenerSet.reloadStep), then passive ejection settings. */
  reloadStep(config: Config): ReloadStep {
    const listeners = this.listeners.reloadStep(config);
    return {
      prepare: () => listeners.prepare(),
      commit: () => {
        listeners.commit();
        this.passive.options = passiveOptions(config);
      },
    };
  }

  /** The bound port of a listener, by name. */
  port(listener: string): number {
    return this.listeners.port(listener);
  }

  /** Listener name → bound port. */
  ports(): Record<string, number> {
    return this.listeners.ports();
  }

  /** Certificate names that are some TLS listener's default_cert. */
  defaultCerts(): ReadonlySet<string> {
    return this.listeners.defaultCerts();
  }

  /** Stops accepting; in-flight requests get up to `timeout` ms; then the engine's pooled sockets close. */
  async close(timeout: number): Promise<void> {
    this.drain.close();
    await this.listeners.close(timeout);
    this.wsProxy.close();
    this.forwarder.close();
    this.mirror.close();
  }
}
