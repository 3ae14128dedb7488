import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import httpProxy from 'http-proxy';
import type { Logger } from 'pino';
import type { StackPool } from '../pool/stack-pool.js';
import { chooseStack } from '../routing/service-route.js';
import type { StateController } from '../state/controller.js';
import { readRequestHead } from './headers.js';
import type { ListenerRouting } from './handler.js';
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
        socket.end(CLOSE_GOING_AWAY);
        closed++;
      }
    }
    return closed;
  }
}

function refuse(socket: Duplex, status: number, reason: string): void {
  if (socket.writable) socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  socket.destroy();
}

/**
 * Proxies WebSocket upgrades to the chosen stack with http-proxy, which remains the
 * right tool for the raw socket splice. Other upgrades (h2c) are refused with 400:
 * they are never forwarded.
 */
export class WebSocketProxy {
  private readonly proxy = httpProxy.createProxyServer({ ws: true, xfwd: false });
  private readonly controller: StateController;
  private readonly registry: WebSocketRegistry;

  constructor(controller: StateController, registry: WebSocketRegistry, log: Logger) {
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
      refuse(socket, 400, 'Bad Request');
      return;
    }
    const request = readRequestHead(req.rawHeaders, req.socket.remoteAddress, listener);
    if (request.duplicateHost) {
      refuse(socket, 400, 'Bad Request');
      return;
    }
    const route = this.controller.snapshot.router.match(request.host, req.url ?? '/');
    if (route === undefined) {
      refuse(socket, 404, 'Not Found');
      return;
    }
    const pool = listener.routeToStandby ? route.standby : chooseStack(route, request.cookie);
    const target = pool.pick();
    if (target === undefined) {
      refuse(socket, 503, 'Service Unavailable');
      return;
    }
    req.headers['x-forwarded-for'] = request.headers[request.headers.indexOf('X-Forwarded-For') + 1];
    req.headers['x-forwarded-proto'] = listener.proto;
    req.headers['x-forwarded-host'] = request.host ?? '';
    req.headers['x-forwarded-port'] = listener.port;
    this.registry.add(pool, socket);
    // Guard the client's frames once http-proxy splices the sockets: it emits 'pipe' on the
    // client socket right before piping it upstream, after resetting its timeout, and
    // re-emits `head` as data, so nothing is read before the upstream can take it.
    const limits = this.controller.currentConfig.limits;
    socket.once('pipe', () => new WebSocketGuard(socket, { maxMessage: limits.websocket_max_message, idleTimeout: limits.websocket_idle_timeout }));
    try {
      this.proxy.ws(req, socket, head, { target: { host: target.host, port: target.port } });
    } catch {
      // http.request throws synchronously on a target net.connect refuses (issue 11): a 502, never a crash.
      refuse(socket, 502, 'Bad Gateway');
    }
  }

  close(): void {
    this.proxy.close();
  }
}
