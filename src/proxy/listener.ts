import { createServer, type IncomingMessage, type Server, type ServerOptions } from 'node:http';
import { createServer as createTlsServer, type ServerOptions as HttpsServerOptions } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Config, ListenerConfig } from '../config/schema.js';
import type { RequestHandler } from './handler.js';

/** Status line for the errors a client can cause before a request exists. */
function clientErrorStatus(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, maxHeaderSize: number): string {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      // As nginx: 414 when the request line alone is over the limit, 431 for the header fields.
      return requestLineLength(err.rawPacket) > maxHeaderSize ? '414 URI Too Long' : '431 Request Header Fields Too Large';
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return '408 Request Timeout';
    default:
      return '400 Bad Request';
  }
}

/** Length of the request line at the start of `packet` (to its line end, or the whole packet), 0 when it does not start with one. */
function requestLineLength(packet: Buffer | undefined): number {
  if (packet === undefined || !/^[A-Z]+ /.test(packet.toString('latin1', 0, 16))) return 0;
  const end = packet.indexOf('\n');
  return end < 0 ? packet.length : end;
}

/** Malformed or ambiguous requests (Node's strict parser rejects them) get 400/414/431/408 and a closed connection. */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex, maxHeaderSize: number): void {
  const inResponse = (socket as Duplex & { _httpMessage?: unknown })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inResponse) {
    socket.destroy();
    return;
  }
  socket.end(`HTTP/1.1 ${clientErrorStatus(err, maxHeaderSize)}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
}

function refuseConnect(_req: IncomingMessage, socket: Duplex): void {
  socket.on('error', () => socket.destroy());
  socket.end('HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', () =>
    socket.destroy(),
  );
}

/** One public listener: a plain or TLS server bound to the request handler. */
export class ProxyListener {
  readonly config: ListenerConfig;
  readonly server: Server;
  readonly handler: RequestHandler;

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
    this.server = tls ? createTlsServer({ ...options, ...tls }, handler.handle) : createServer(options, handler.handle);
    this.server.maxConnections = limits.max_connections;
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(err, socket, limits.max_header_size));
    this.server.on('upgrade', onUpgrade);
    // A reverse proxy never tunnels: CONNECT gets 405 and a closed connection.
    this.server.on('connect', refuseConnect);
    this.server.on('connection', (socket: Socket) => socket.setNoDelay(true));
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
   * response), and after `timeout` ms cuts whatever is left.
   */
  close(timeout: number): Promise<void> {
    this.handler.draining = true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.server.closeAllConnections(), timeout);
      timer.unref();
      // A connection whose last request finishes during the drain goes idle: close it then,
      // rather than waiting out the keep-alive timeout.
      const sweep = setInterval(() => this.server.closeIdleConnections(), 100);
      this.server.close(() => {
        clearTimeout(timer);
        clearInterval(sweep);
        resolve();
      });
      this.server.closeIdleConnections();
    });
  }
}
