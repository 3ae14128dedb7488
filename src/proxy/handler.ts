import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { NOOP_METER, type StackMeter } from '../pool/stack-meter.js';
import type { StackPool } from '../pool/stack-pool.js';
import type { Target } from '../pool/target.js';
import { chooseStack, type ServiceRoute } from '../routing/service-route.js';
import type { StateController } from '../state/controller.js';
import { Exchange, type Forwarder } from './exchange.js';
import { readRequestHead, type ListenerFacts } from './headers.js';
import { respondError } from './respond.js';

/** What one listener adds to routing. */
export interface ListenerRouting extends ListenerFacts {
  /** Serve the standby stack (preview listener). */
  readonly routeToStandby: boolean;
  /** Extra response headers of this listener (HSTS), flat. */
  readonly responseHeaders: readonly string[] | undefined;
}

/** A stack picked for a request, with the target and whether failover was used. */
export interface Placement {
  readonly pool: StackPool;
  readonly target: Target;
}

/**
 * The request path: route (host, path) → stack (weights, sticky) → target (balance) →
 * forward. Reads the routing snapshot exactly once per request.
 */
export class RequestHandler {
  private readonly controller: StateController;
  private readonly forwarder: Forwarder;
  private readonly listener: ListenerRouting;
  /** Counts requests that matched no service (label `_unmatched`). */
  unmatchedMeter: StackMeter = NOOP_METER;
  /** Called when a request is served from another stack because its own had no healthy target. */
  onFailover: ((route: ServiceRoute, from: StackPool, to: StackPool) => void) | undefined;
  /** Set while shutting down: responses close their connection. */
  draining = false;
  /** Logger for one line per request (`logging.access_log`), or undefined. */
  accessLog: Logger | undefined;

  constructor(controller: StateController, forwarder: Forwarder, listener: ListenerRouting) {
    this.controller = controller;
    this.forwarder = forwarder;
    this.listener = listener;
  }

  /** The `request` listener of the proxy servers. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const startedAt = performance.now();
    if (this.draining) res.shouldKeepAlive = false;
    const head = readRequestHead(req.rawHeaders, req.socket.remoteAddress, this.listener);
    if (head.duplicateHost) {
      respondError(res, 'BAD_REQUEST', 'more than one Host header', true);
      return;
    }
    if (req.httpVersionMinor === 0 && req.headers['transfer-encoding'] !== undefined) {
      // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
      respondError(res, 'BAD_REQUEST', 'Transfer-Encoding in an HTTP/1.0 request', true);
      return;
    }
    const route = this.controller.snapshot.router.match(head.host, req.url ?? '/');
    if (route === undefined) {
      this.unmatchedMeter.response(respondError(res, 'NO_ROUTE', 'no service matches this host and path'), (performance.now() - startedAt) / 1000);
      return;
    }
    const pool = this.listener.routeToStandby ? route.standby : chooseStack(route, head.cookie);
    const placement = this.place(route, pool);
    if (placement === undefined) {
      const status = respondError(res, 'NO_HEALTHY_TARGET', `service "${route.name}" stack "${pool.name}" has no healthy target`);
      pool.meter.response(status, (performance.now() - startedAt) / 1000);
      return;
    }
    const extra = this.extraHeaders(route, placement.pool, head.cookie);
    this.forwarder.forward(
      new Exchange({
        req,
        res,
        route,
        pool: placement.pool,
        target: placement.target,
        headers: head.headers,
        hasBody: head.hasBody,
        extraHeaders: extra,
        startedAt,
        accessLog: this.accessLog,
      }),
    );
  };

  private place(route: ServiceRoute, pool: StackPool): Placement | undefined {
    const target = pool.pick();
    if (target !== undefined) return { pool, target };
    if (!route.config.failover) return undefined;
    for (const other of route.pools) {
      if (other === pool) continue;
      const fallback = other.pick();
      if (fallback !== undefined) {
        this.onFailover?.(route, pool, other);
        return { pool: other, target: fallback };
      }
    }
    return undefined;
  }

  /** Sticky cookie when weights are split and the client is not yet pinned; listener headers. */
  private extraHeaders(route: ServiceRoute, pool: StackPool, cookie: string | undefined): readonly string[] | undefined {
    const listenerHeaders = this.listener.responseHeaders;
    const name = route.stickyCookie;
    if (name === undefined || route.soloPool !== undefined || cookie?.includes(`${name}=${pool.name}`)) return listenerHeaders;
    const sticky = ['Set-Cookie', `${name}=${pool.name}; Path=/; HttpOnly; SameSite=Lax`];
    return listenerHeaders === undefined ? sticky : [...listenerHeaders, ...sticky];
  }
}
