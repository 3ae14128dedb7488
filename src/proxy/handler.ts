import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants, Http2ServerRequest } from 'node:http2';
import type { Logger } from 'pino';
import type { ChallengeResponder } from '../acme/challenges.js';
import { NOOP_METER, type StackMeter } from '../pool/stack-meter.js';
import type { StackPool } from '../pool/stack-pool.js';
import type { Target } from '../pool/target.js';
import { chooseStack, type ServiceRoute } from '../routing/service-route.js';
import type { RoutingSource } from '../state/routing-source.js';
import { Exchange, type Forwarder } from './exchange.js';
import { readH2RequestHead } from './h2-head.js';
import { readRequestHead, type ListenerFacts, type RequestHead } from './headers.js';
import { ALLOWED_METHODS } from './refuse.js';
import { ASTERISK, parseRequestTarget } from './request-target.js';
import type { Mirror } from './mirror.js';
import { overrideStack } from './overrides.js';
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
  private readonly controller: RoutingSource;
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
  /** Sends the copies of services with a `mirror`. */
  mirror: Mirror | undefined;
  /** ACME http-01 tokens in flight, answered before routing; set on plain-HTTP listeners only. */
  acmeChallenges: ChallengeResponder | undefined;

  constructor(controller: RoutingSource, forwarder: Forwarder, listener: ListenerRouting) {
    this.controller = controller;
    this.forwarder = forwarder;
    this.listener = listener;
  }

  /** The `request` listener of the proxy servers. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const startedAt = performance.now();
    if (this.draining) res.shouldKeepAlive = false;
    if (req.httpVersionMajor !== 1) {
      if (req instanceof Http2ServerRequest) {
        this.handleH2(req, res, startedAt);
        return;
      }
      // Node's parser takes "HTTP/2.0" on a request line; forwarding it as 1.1 would hide the mismatch (RFC 9110 §15.6.6).
      respondError(res, 'HTTP_VERSION_NOT_SUPPORTED', `HTTP/${req.httpVersion} is not served on this port`, true);
      return;
    }
    if (req.httpVersionMinor === 0 && req.headers['transfer-encoding'] !== undefined) {
      // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
      respondError(res, 'BAD_REQUEST', 'Transfer-Encoding in an HTTP/1.0 request', true);
      return;
    }
    let url = req.url ?? '/';
    let authority: string | undefined;
    if (url.charCodeAt(0) !== 47 /* / */) {
      const target = parseRequestTarget(url, req.method);
      if (target === undefined) {
        respondError(res, 'BAD_REQUEST', 'the request target is neither a path, an http(s) URL, nor * for OPTIONS', true);
        return;
      }
      if (target === ASTERISK) {
        // OPTIONS * asks about the server in general (RFC 9110 §9.3.7): answered here, as Apache does.
        res.writeHead(200, { allow: ALLOWED_METHODS, 'content-length': 0 });
        res.end();
        return;
      }
      // Absolute-form: routed by its authority, forwarded in origin-form (RFC 9112 §3.2.2).
      url = target.path;
      authority = target.authority;
      req.url = url;
    }
    const keepUnderscores = this.controller.currentConfig.limits.underscores_in_headers;
    const head = readRequestHead(req.rawHeaders, req.socket.remoteAddress, this.listener, authority, keepUnderscores);
    if (head.refusal !== undefined) {
      respondError(res, head.refusal.code, head.refusal.message, true);
      return;
    }
    if (this.acmeChallenges?.respond(req, res, url, head.host) === true) return;
    this.route(req, res, head, url, startedAt);
  };

  /**
   * An HTTP/2 stream (Node's compatibility API; `res` is a ProxyH2Response): its head is
   * translated for HTTP/1.1 (h2-head.ts), then it is routed and forwarded like any request.
   * Its `:path` is origin-form or `*` (nghttp2 checks it); CONNECT never gets here.
   */
  private handleH2(req: IncomingMessage & Http2ServerRequest, res: ServerResponse, startedAt: number): void {
    const url = req.url;
    if (url.charCodeAt(0) !== 47 /* / */) {
      if (url === '*' && req.method === 'OPTIONS') {
        res.writeHead(200, { allow: ALLOWED_METHODS, 'content-length': 0 });
        res.end();
      } else {
        respondError(res, 'BAD_REQUEST', 'the :path is neither a path nor * for OPTIONS');
      }
      return;
    }
    const limits = this.controller.currentConfig.limits;
    if (!req.stream.endAfterHeaders) boundStreamBody(req, res, limits.request_timeout);
    const keepUnderscores = limits.underscores_in_headers;
    const head = readH2RequestHead(req.rawHeaders, req.stream.endAfterHeaders, req.socket.remoteAddress, this.listener, keepUnderscores);
    if (head.refusal !== undefined) {
      respondError(res, head.refusal.code, head.refusal.message);
      return;
    }
    this.route(req, res, head, url, startedAt);
  }

  /** Route → stack → target → forward, for a head already read and accepted. */
  private route(req: IncomingMessage, res: ServerResponse, head: RequestHead, url: string, startedAt: number): void {
    if (req.method === 'TRACE') {
      // TRACE echoes the request, cookies and credentials included (cross-site tracing): never forwarded, as nginx answers 405.
      res.setHeader('allow', ALLOWED_METHODS);
      this.unmatchedMeter.response(respondError(res, 'METHOD_NOT_ALLOWED', 'TRACE is not forwarded'), (performance.now() - startedAt) / 1000);
      return;
    }
    const route = this.controller.snapshot.router.match(head.host, url);
    if (route === undefined) {
      this.unmatchedMeter.response(respondError(res, 'NO_ROUTE', 'no service matches this host and path'), (performance.now() - startedAt) / 1000);
      return;
    }
    let pool: StackPool;
    let overridden: StackPool | undefined;
    if (this.listener.routeToStandby) pool = route.standby;
    else {
      // Overrides beat weights and sticky cookies (SPEC §10); only services that have some look.
      overridden = route.overrides === null ? undefined : overrideStack(route.overrides, req.rawHeaders, head.cookie);
      pool = overridden ?? chooseStack(route, head.cookie);
    }
    const placement = this.place(route, pool);
    if (placement === undefined) {
      const status = respondError(res, 'NO_HEALTHY_TARGET', `service "${route.name}" stack "${pool.name}" has no healthy target`);
      pool.meter.response(status, (performance.now() - startedAt) / 1000);
      return;
    }
    // An overridden request is not pinned: the sticky cookie would keep its client there after the header is gone.
    const extra = overridden === undefined ? this.extraHeaders(route, placement.pool, head.cookie) : this.listener.responseHeaders;
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
    // After the forwarder took the request (and its body listener): the copy never goes first.
    if (route.mirror !== null && this.mirror !== undefined && !this.listener.routeToStandby) {
      this.mirror.copy(route.name, route.mirror, placement.pool, req, head.headers, head.hasBody);
    }
  }

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

/**
 * HTTP/2 has no server-wide `requestTimeout`: a stream whose body is not complete within
 * `limits.request_timeout` gets 408 (or, once its answer began, a reset), as node:http cuts
 * an HTTP/1.1 request; its upstream attempt is abandoned with the stream.
 */
function boundStreamBody(req: Http2ServerRequest, res: ServerResponse, ms: number): void {
  const timer = setTimeout(() => {
    if (req.complete) return;
    if (res.headersSent) req.stream.close(constants.NGHTTP2_CANCEL);
    else respondError(res, 'REQUEST_TIMEOUT', `the request body did not arrive within ${ms} ms`);
  }, ms);
  timer.unref();
  req.stream.once('close', () => clearTimeout(timer));
}
