import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import httpProxy from 'http-proxy';
import type { Logger } from 'pino';
import type { StackPool } from '../pool/stack-pool.js';
import { chooseStack } from '../routing/service-route.js';
import type { RoutingSource } from '../state/routing-source.js';
import type { ListenerRouting } from './handler.js';
import { readRequestHead } from './headers.js';
import { overrideStack } from './overrides.js';
import { closeSocket, refuse } from './refuse.js';
import { ASTERISK, parseRequestTarget } from './request-target.js';
import { CLOSE_GOING_AWAY, WebSocketGuard } from './websocket-guard.js';

/** Open proxied WebSockets per service and stack, so a drain can close the old stack's. */
export class WebSocketRegistry {
  private readonly open = new Map<string, Map<string, Set<Duplex>>>();

  add(pool: StackPool, socket: Duplex): void {
    let stacks = this.open.get(pool.service);
    if (!stacks) {
      stacks = new Map();
      this.open.set(pool.service, stacks);
    }
    let sockets = stacks.get(pool.name);
    if (!sockets) {
      sockets = new Set();
      stacks.set(pool.name, sockets);
    }
    sockets.add(socket);
    const set = sockets;
    socket.once('close', () => set.delete(socket));
  }

  /** Number of open WebSockets of a service's stack. */
  count(service: string, stack: string): number {
    return this.open.get(service)?.get(stack)?.size ?? 0;
  }

  /** Closes (1001) every WebSocket of the service on stacks not in `keep`. */
  drain(service: string, keep: ReadonlySet<string>): number {
    let closed = 0;
    for (const [stack, sockets] of this.open.get(service) ?? []) {
      if (keep.has(stack)) continue;
      for (const socket of sockets) {
        closeGoingAway(socket);
        closed++;
      }
    }
    return closed;
  }
}

const kSpliced = Symbol('switchyard.websocketSpliced');
type ClientSocket = Duplex & { [kSpliced]?: true };

/**
 * Closes a client WebSocket: a 1001 close frame once the upstream accepted the upgrade
 * (before that the client expects an HTTP answer, not a frame), then the socket is
 * destroyed after the flush or CLOSE_GRACE. Its upstream side closes with it.
 */
export function closeGoingAway(socket: Duplex): void {
  if ((socket as ClientSocket)[kSpliced] === true) closeSocket(socket, CLOSE_GOING_AWAY);
  else socket.destroy();
}

/**
 * Ties the two sockets of a spliced WebSocket together: when either side ends or closes,
 * the other is ended and both are destroyed (after the flush, bounded by CLOSE_GRACE),
 * as nginx closes both sides. http-proxy only forwards a half-close, which leaves one side
 * open until websocket_idle_timeout when the peer does not close in turn.
 */
function linkTunnel(client: Duplex, upstream: Duplex): void {
  let closing = false;
  const closeBoth = (): void => {
    if (closing) return;
    closing = true;
    closeSocket(client);
    closeSocket(upstream);
  };
  client.once('end', closeBoth);
  client.once('close', closeBoth);
  upstream.once('end', closeBoth);
  upstream.once('close', closeBoth);
}

/** Drops header fields whose name has an underscore from the object http-proxy forwards (see readRequestHead). */
function dropUnderscoreHeaders(headers: IncomingMessage['headers']): void {
  for (const name of Object.keys(headers)) if (name.includes('_')) delete headers[name];
}

/**
 * Proxies WebSocket upgrades to the chosen stack with http-proxy, which remains the
 * right tool for the raw socket splice. Other upgrades (h2c) are refused with 400:
 * they are never forwarded.
 */
export class WebSocketProxy {
  private readonly proxy = httpProxy.createProxyServer({ ws: true, xfwd: false });
  private readonly controller: RoutingSource;
  private readonly registry: WebSocketRegistry;

  constructor(controller: RoutingSource, registry: WebSocketRegistry, log: Logger) {
    this.controller = controller;
    this.registry = registry;
    // Errors on either socket, before or after the upgrade, end both sides, never the process.
    this.proxy.on('error', (err, _req, socket) => {
      log.debug({ err }, 'websocket proxy error');
      if ('destroy' in socket) socket.destroy();
    });
    this.proxy.on('open', (proxySocket) => proxySocket.on('error', () => proxySocket.destroy()));
  }

  /** The `upgrade` listener for one listener. */
  handle(listener: ListenerRouting, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      refuse(socket, 'BAD_REQUEST', { message: 'only WebSocket upgrades are forwarded' });
      return;
    }
    if (req.httpVersionMajor !== 1) {
      refuse(socket, 'HTTP_VERSION_NOT_SUPPORTED');
      return;
    }
    let url = req.url ?? '/';
    let authority: string | undefined;
    if (url.charCodeAt(0) !== 47 /* / */) {
      const target = parseRequestTarget(url, req.method);
      if (target === undefined || target === ASTERISK) {
        refuse(socket, 'BAD_REQUEST', { message: 'the request target is neither a path nor an http(s) URL' });
        return;
      }
      // Absolute-form: routed by its authority, which replaces Host; forwarded in origin-form (RFC 9112 §3.2.2).
      url = target.path;
      authority = target.authority;
      req.url = url;
      req.headers.host = authority;
    }
    const limits = this.controller.currentConfig.limits;
    const request = readRequestHead(req.rawHeaders, req.socket.remoteAddress, listener, authority, limits.underscores_in_headers);
    if (request.refusal !== undefined) {
      refuse(socket, request.refusal.code, { message: request.refusal.message });
      return;
    }
    const route = this.controller.snapshot.router.match(request.host, url);
    if (route === undefined) {
      refuse(socket, 'NO_ROUTE');
      return;
    }
    const overridden = listener.routeToStandby || route.overrides === null ? undefined : overrideStack(route.overrides, req.rawHeaders, request.cookie);
    const pool = listener.routeToStandby ? route.standby : (overridden ?? chooseStack(route, request.cookie));
    const target = pool.pick();
    if (target === undefined) {
      refuse(socket, 'NO_HEALTHY_TARGET');
      return;
    }
    if (!limits.underscores_in_headers) dropUnderscoreHeaders(req.headers);
    req.headers['x-forwarded-for'] = request.headers[request.headers.indexOf('X-Forwarded-For') + 1];
    req.headers['x-forwarded-proto'] = listener.proto;
    req.headers['x-forwarded-host'] = request.host ?? '';
    req.headers['x-forwarded-port'] = listener.port;
    this.registry.add(pool, socket);
    // Guard the client's frames once http-proxy splices the sockets: it emits 'pipe' on the
    // client socket (with the upstream socket as source) right before piping it upstream,
    // after resetting its timeout, and re-emits `head` as data, so nothing is read before
    // the upstream can take it.
    socket.once('pipe', (upstream: Duplex) => {
      (socket as ClientSocket)[kSpliced] = true;
      linkTunnel(socket, upstream);
      new WebSocketGuard(socket, { maxMessage: limits.websocket_max_message, idleTimeout: limits.websocket_idle_timeout });
    });
    try {
      this.proxy.ws(req, socket, head, { target: { host: target.host, port: target.port } });
    } catch {
      // http.request throws synchronously on a target net.connect refuses (issue 11): a 502, never a crash.
      refuse(socket, 'UPSTREAM_FAILED');
    }
  }

  close(): void {
    this.proxy.close();
  }
}
