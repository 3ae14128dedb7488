import { createServer, type IncomingMessage, type ServerOptions, type ServerResponse } from 'node:http';
import { createSecureServer, Http2ServerRequest, type Http2SecureServer, type Http2ServerResponse } from 'node:http2';
import { createServer as createTlsServer, type ServerOptions as HttpsServerOptions } from 'node:https';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Config, ListenerConfig } from '../config/schema.js';
import type { ErrorCode } from '../errors.js';
import type { RequestHandler } from './handler.js';
import { H2Sessions, h2ServerOptions } from './h2-sessions.js';
import { ALLOWED_METHODS, closeSocket, refuse } from './refuse.js';
import { respondError } from './respond.js';
import { closeGoingAway } from './websocket.js';

/** The catalogue code for a client error Node's parser or timers raise, or undefined when the socket is not an HTTP connection to answer. */
function clientErrorCode(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, maxHeaderSize: number): ErrorCode | undefined {
  const code = err.code ?? '';
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      // As nginx: 414 when the request line alone is over the limit, 431 for the header fields.
      return requestLineLength(err.rawPacket) > maxHeaderSize ? 'URI_TOO_LONG' : 'HEADERS_TOO_LARGE';
    case 'HPE_INVALID_VERSION':
      // A well-formed version llhttp does not take (HTTP/3.0, HTTP/1.2): 505, as nginx; garbage: 400.
      return /^[!-~]+ [!-~]+ HTTP\/\d\.\d\r\n/.test(err.rawPacket?.toString('latin1', 0, 8192) ?? '') ? 'HTTP_VERSION_NOT_SUPPORTED' : 'BAD_REQUEST';
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 'REQUEST_TIMEOUT';
    default:
      // Only the HTTP parser's errors concern an HTTP connection. Everything else (a reset, a
      // TLS handshake that failed or timed out) is on a socket that gets no HTTP answer: a
      // TLS socket still in its handshake would buffer the answer forever.
      return code.startsWith('HPE_') ? 'BAD_REQUEST' : undefined;
  }
}

/** Length of the request line at the start of `packet` (to its line end, or the whole packet), 0 when it does not start with one. */
function requestLineLength(packet: Buffer | undefined): number {
  if (packet === undefined || !/^[A-Z]+ /.test(packet.toString('latin1', 0, 16))) return 0;
  const end = packet.indexOf('\n');
  return end < 0 ? packet.length : end;
}

const kLastResponse = Symbol('switchyard.lastResponse');
type ClientSocket = Duplex & { [kLastResponse]?: ServerResponse };

/** Remembers the newest response of each connection, so a client error knows whether an answer is still possible. */
function noteResponse(req: IncomingMessage, res: ServerResponse): void {
  (req.socket as ClientSocket)[kLastResponse] = res;
}

/**
 * Malformed or ambiguous requests (Node's strict parser rejects them, also mid-body) get
 * 400/408/414/431/505 and a closed connection when nothing of a response is on the wire:
 * no request yet, all responses finished, or the newest one is the socket's current
 * response and has not sent its head (one queued behind another has no socket yet: the
 * one before it may be streaming). A response already complete (switchyard refused the
 * head itself) is flushed, then the socket closed. Otherwise, and for sockets that are not
 * HTTP connections yet, the socket is destroyed. Closing the client socket also abandons
 * the request's upstream attempt, so no upstream connection keeps half a request.
 */
function answerClientError(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: ClientSocket, maxHeaderSize: number): void {
  const code = clientErrorCode(err, maxHeaderSize);
  if (code === undefined || !socket.writable) {
    socket.destroy();
    return;
  }
  const res = socket[kLastResponse];
  if (res === undefined || res.writableFinished || (res.socket !== null && !res.headersSent)) {
    refuse(socket, code, { head: err.rawPacket?.toString('latin1', 0, 5) === 'HEAD ' });
  } else if (res.writableEnded) {
    closeSocket(socket);
  } else {
    socket.destroy();
  }
}

const CONNECT_REFUSED = 'CONNECT is not served by a reverse proxy';

/** A reverse proxy never tunnels: CONNECT gets 405 and a closed connection (on HTTP/2, a 405 on its stream). */
function refuseConnect(req: IncomingMessage | Http2ServerRequest, socket: Duplex | Http2ServerResponse): void {
  if (req instanceof Http2ServerRequest) {
    const res = socket as unknown as ServerResponse; // a ProxyH2Response, see h2-response.ts
    res.setHeader('allow', ALLOWED_METHODS);
    respondError(res, 'METHOD_NOT_ALLOWED', CONNECT_REFUSED);
    return;
  }
  refuse(socket as Duplex, 'METHOD_NOT_ALLOWED', { message: CONNECT_REFUSED, header: `Allow: ${ALLOWED_METHODS}` });
}

/**
 * What a listener uses of its server, node:http's, node:https's, or node:http2's with
 * `allowHTTP1` (whose HTTP/1 side has both members, though its typings do not say so).
 */
export type ProxyServer = NetServer & {
  maxHeadersCount: number | null;
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  closeIdleConnections(): void;
};

/** The request listener of a server that takes both protocols: HTTP/2 streams come as Http2ServerRequest and ProxyH2Response, which has every member of ServerResponse the request path uses. */
type BothProtocols = (req: Http2ServerRequest, res: Http2ServerResponse) => void;

/** How long before the drain deadline open WebSockets are sent 1001 (going away), so the frame is out before everything is cut (ms). */
const WEBSOCKET_NOTICE = 100;

/** One public listener: a plain or TLS server bound to the request handler; on TLS, HTTP/2 and HTTP/1.1 by ALPN unless `http2: false`. */
export class ProxyListener {
  readonly config: ListenerConfig;
  readonly server: ProxyServer;
  readonly handler: RequestHandler;
  /** The HTTP/2 sessions, on a TLS listener that offers h2. */
  readonly h2: H2Sessions | undefined;
  /** Every accepted TCP connection (in a TLS handshake, HTTP, or upgraded), so a drain can end them all. */
  private readonly connections = new Set<Socket>();
  /** Upgraded (WebSocket) client sockets, sent 1001 just before the drain deadline. */
  private readonly tunnels = new Set<Duplex>();

  constructor(
    config: ListenerConfig,
    limits: Config['limits'],
    handler: RequestHandler,
    onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void,
    tls?: HttpsServerOptions,
  ) {
    this.config = config;
    this.handler = handler;
    const options: ServerOptions = {
      maxHeaderSize: limits.max_header_size,
      // Node requires headersTimeout <= requestTimeout: a whole-request limit shorter than the
      // head limit also bounds the head, rather than being raised to it.
      headersTimeout: Math.min(limits.header_timeout, limits.request_timeout),
      requestTimeout: limits.request_timeout,
      keepAliveTimeout: limits.keepalive_timeout,
      // Check the slowloris timers every second instead of Node's default 30 s.
      connectionsCheckingInterval: 1000,
      requireHostHeader: true,
      joinDuplicateHeaders: false,
      insecureHTTPParser: false,
    };
    // The TLS handshake is bounded like the head (Node's default is 120 s), as nginx does
    // with client_header_timeout: silent connections must not hold max_connections slots.
    if (tls !== undefined && config.http2 !== false) {
      this.h2 = new H2Sessions({
        maxConcurrentStreams: limits.h2_max_concurrent_streams,
        maxHeaderListSize: limits.max_header_size,
        maxStreamResets: limits.h2_max_stream_resets,
        idleTimeout: limits.keepalive_timeout,
      });
      const server = createSecureServer({ ...tls, ...h2ServerOptions(this.h2.limits), handshakeTimeout: limits.header_timeout });
      // Node's HTTP/2 server takes no HTTP/1 options; its HTTP/1 side reads them from these
      // same-named server properties, as node:http's server does after storing its options.
      Object.assign(server, options);
      server.on('request', handler.handle as unknown as BothProtocols);
      server.on('session', this.h2.add);
      this.server = server as Http2SecureServer & Partial<ProxyServer> as ProxyServer;
    } else {
      this.h2 = undefined;
      this.server = tls
        ? createTlsServer({ ...options, ...tls, handshakeTimeout: limits.header_timeout }, handler.handle)
        : createServer(options, handler.handle);
    }
    // max_connections counts raw TCP connections, those still in a TLS handshake included.
    this.server.maxConnections = limits.max_connections;
    // Node's own count limit (1,000 fields) drops the rest silently, Content-Length included:
    // none here; readRequestHead refuses more than MAX_HEADER_FIELDS with 431, and
    // max_header_size bounds the work.
    this.server.maxHeadersCount = 0;
    this.server.on('request', noteResponse);
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(err, socket, limits.max_header_size));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.tunnels.add(socket);
      socket.once('close', () => this.tunnels.delete(socket));
      onUpgrade(req, socket, head);
    });
    this.server.on('connect', refuseConnect);
    this.server.on('connection', (socket: Socket) => {
      socket.setNoDelay(true);
      this.connections.add(socket);
      socket.once('close', () => this.connections.delete(socket));
    });
  }

  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.config.port, this.config.address, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  /** The bound port (after listen). */
  get port(): number {
    return (this.server.address() as AddressInfo | null)?.port ?? this.config.port;
  }

  /**
   * Stops accepting, lets in-flight requests finish (their connections close after the
   * response), and after `timeout` ms cuts whatever is left, so a drain never outlasts it:
   * WebSockets get a 1001 close frame WEBSOCKET_NOTICE ms before, then every connection
   * still open (HTTP, upgraded, or in a TLS handshake) is destroyed. Resolves when all are gone.
   */
  close(timeout: number): Promise<void> {
    this.handler.draining = true;
    // HTTP/2 connections get GOAWAY now: no new streams, open ones finish, then they close.
    this.h2?.closeAll();
    return new Promise((resolve) => {
      const notice = setTimeout(() => this.closeWebSockets(), Math.max(0, timeout - WEBSOCKET_NOTICE));
      const deadline = setTimeout(() => {
        // Every connection, HTTP/1, HTTP/2, upgraded or still in its TLS handshake.
        for (const socket of this.connections) socket.destroy();
      }, timeout);
      // A connection whose last request finishes during the drain goes idle: close it then,
      // rather than waiting out the keep-alive timeout.
      const sweep = setInterval(() => this.server.closeIdleConnections(), 100);
      this.server.close(() => {
        clearTimeout(notice);
        clearTimeout(deadline);
        clearInterval(sweep);
        resolve();
      });
      this.server.closeIdleConnections();
    });
  }

  /** Sends 1001 (going away) to every open WebSocket of this listener and closes it. */
  private closeWebSockets(): void {
    for (const socket of this.tunnels) closeGoingAway(socket);
  }
}
