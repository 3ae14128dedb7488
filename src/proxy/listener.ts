import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type ServerOptions as HttpsServerOptions } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Config, ListenerConfig } from '../config/schema.js';
import type { ErrorCode } from '../errors.js';
import type { RequestHandler } from './handler.js';
import { ALLOWED_METHODS, closeSocket, refuse } from './refuse.js';
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

/** A reverse proxy never tunnels: CONNECT gets 405 and a closed connection. */
function refuseConnect(_req: IncomingMessage, socket: Duplex): void {
  refuse(socket, 'METHOD_NOT_ALLOWED', { message: 'CONNECT is not served by a reverse proxy', header: `Allow: ${ALLOWED_METHODS}` });
}

/** How long before the drain deadline open WebSockets are sent 1001 (going away), so the frame is out before everything is cut (ms). */
const WEBSOCKET_NOTICE = 100;

/** One public listener: a plain or TLS server bound to the request handler. */
export class ProxyListener {
  readonly config: ListenerConfig;
  readonly server: Server;
  readonly handler: RequestHandler;
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
    this.server = tls
      ? createTlsServer({ ...options, ...tls, handshakeTimeout: limits.header_timeout }, handler.handle)
      : createServer(options, handler.handle);
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
    return new Promise((resolve) => {
      const notice = setTimeout(() => this.closeWebSockets(), Math.max(0, timeout - WEBSOCKET_NOTICE));
      const deadline = setTimeout(() => {
        this.server.closeAllConnections();
        // Upgraded connections and TLS handshakes are not HTTP connections: closeAllConnections misses them.
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
