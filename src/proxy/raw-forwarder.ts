import type { PassiveHealth } from '../health/passive.js';
import type { Target } from '../pool/target.js';
import { startExchange, type Exchange, type Forwarder } from './exchange.js';
import { bufferedBody } from './body-buffer.js';
import { responseHeaders } from './headers.js';
import { respondError } from './respond.js';
import { UpstreamConnection } from './upstream-connection.js';
import { classifyUpstreamError, isTargetFault, shouldRetry, statusForFailure, type UpstreamErrorKind } from './upstream-errors.js';

/** Upstream connection pool settings (same meaning as for the node engine). */
export interface RawForwarderOptions {
  readonly idleTimeout: number;
  readonly maxSockets: number;
  readonly maxHeaderSize?: number;
}

type ErrnoError = NodeJS.ErrnoException;

/** One try of an exchange against one target. */
export class Attempt {
  readonly exchange: Exchange;
  readonly forwarder: RawForwarder;
  readonly target: Target;
  readonly conn: UpstreamConnection;
  timedOut = false;
  timedOutConnecting = false;
  settled = false;
  informational = false;
  keepAlive = false;
  complete = false;
  /** The request body was sent in full (or there is none). */
  bodyDone: boolean;
  chunked = false;

  constructor(exchange: Exchange, forwarder: RawForwarder, target: Target, conn: UpstreamConnection) {
    this.exchange = exchange;
    this.forwarder = forwarder;
    this.target = target;
    this.conn = conn;
    this.bodyDone = !exchange.hasBody;
  }

  /** Writes the request head (and the body once connected). */
  start(): void {
    const exchange = this.exchange;
    const req = exchange.req;
    const h = exchange.headers;
    let head = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
    for (let i = 0; i < h.length; i += 2) {
      const name = h[i] as string;
      if (exchange.hasBody && name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
        this.chunked = true;
        head += 'Transfer-Encoding: chunked\r\n';
        continue;
      }
      head += `${name}: ${h[i + 1] as string}\r\n`;
    }
    head += 'Connection: keep-alive\r\n\r\n';
    const socket = this.conn.socket;
    socket.setTimeout(exchange.route.responseTimeout);
    const buffered = exchange.hasBody ? bufferedBody(exchange) : undefined;
    if (buffered !== undefined) {
      // The whole body is kept: a failed attempt can send it again, so bodySent stays false.
      socket.write(Buffer.concat([Buffer.from(head, 'latin1'), buffered]));
      this.bodyDone = true;
      return;
    }
    socket.write(head, 'latin1');
    if (exchange.hasBody && this.conn.connected) this.sendBody();
  }

  onConnect(): void {
    if (this.exchange.hasBody && !this.bodyDone && !this.exchange.bodySent && !this.settled) this.sendBody();
  }

  /** Streams the client's body upstream with backpressure; chunk-encodes when the client sent chunked. */
  sendBody(): void {
    const exchange = this.exchange;
    const req = exchange.req;
    const socket = this.conn.socket;
    exchange.bodySent = true;
    const chunked = this.chunked;
    const onData = (chunk: Buffer): void => {
      if (this.settled || socket.destroyed) return;
      const ok = chunked
        ? socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1') && socket.write(chunk) && socket.write('\r\n', 'latin1')
        : socket.write(chunk);
      if (!ok) {
        req.pause();
        socket.once('drain', () => req.resume());
      }
    };
    const onEnd = (): void => {
      if (this.settled || socket.destroyed) return;
      if (chunked) socket.write('0\r\n\r\n', 'latin1');
      this.bodyDone = true;
    };
    req.on('data', onData);
    req.once('end', onEnd);
    if (req.readableEnded) onEnd();
  }

  onHead(status: number, message: string, headers: string[]): number {
    const exchange = this.exchange;
    exchange.responded = true;
    const forwarder = this.forwarder;
    if (status >= 500) {
      forwarder.passive.failure(this.target);
      exchange.pool.meter.upstreamError(this.target, '5xx');
    } else {
      forwarder.passive.success(this.target);
    }
    if (!exchange.done) exchange.res.writeHead(status, message, responseHeaders(headers, exchange.extraHeaders));
    return exchange.req.method === 'HEAD' ? 1 : 0;
  }

  /** The response completed on the upstream side. */
  end(): void {
    if (this.settled) return;
    this.settled = true;
    this.target.inFlight--;
    this.exchange.upstream = undefined;
  }

  fail(err: ErrnoError, reusedSocket: boolean): void {
    if (this.settled) return;
    this.settled = true;
    this.target.inFlight--;
    const exchange = this.exchange;
    if (exchange.done) return;
    const kind: UpstreamErrorKind = this.timedOut ? (this.timedOutConnecting ? 'connect' : 'timeout') : classifyUpstreamError(err, this.conn.connected);
    exchange.pool.meter.upstreamError(this.target, kind);
    if (isTargetFault(kind, reusedSocket)) this.forwarder.passive.failure(this.target);
    if (exchange.responded) {
      exchange.res.destroy();
      return;
    }
    const facts = { kind, method: exchange.req.method ?? 'GET', retries: exchange.retries, responded: false, bodySent: exchange.bodySent, reusedSocket };
    if (shouldRetry(facts)) {
      const next = exchange.pool.pick(this.target) ?? (kind === 'reset' ? this.target : undefined);
      if (next !== undefined) {
        exchange.retries++;
        exchange.target = next;
        this.forwarder.attempt(exchange);
        return;
      }
    }
    const status = statusForFailure(kind);
    respondError(
      exchange.res,
      status === 504 ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_FAILED',
      `service "${exchange.route.name}" stack "${exchange.pool.name}": upstream ${this.target.address} failed (${kind}: ${err.code ?? err.message})`,
    );
  }
}

/**
 * Forwards over raw keep-alive `net.Socket`s, parsing upstream responses strictly with
 * Node's own llhttp binding. Same decisions as the node engine (retries by `shouldRetry`,
 * 502/504, passive feed, meters); WebSocket upgrades stay with http-proxy.
 */
export class RawForwarder implements Forwarder {
  readonly passive: PassiveHealth;
  readonly idleTimeout: number;
  readonly maxSockets: number;
  readonly maxHeaderSize: number;
  /** Connections and waiting exchanges per target. */
  private readonly targets = new Map<Target, TargetConnections>();
  private readonly all = new Set<UpstreamConnection>();

  constructor(options: RawForwarderOptions, passive: PassiveHealth) {
    this.idleTimeout = options.idleTimeout;
    this.maxSockets = options.maxSockets;
    this.maxHeaderSize = options.maxHeaderSize ?? 65_536;
    this.passive = passive;
  }

  forward(exchange: Exchange): void {
    startExchange(exchange, this.start);
  }

  /** `attempt`, bound once: what startExchange calls (at once, or after buffering a small body). */
  private readonly start = (exchange: Exchange): void => this.attempt(exchange);

  /**
   * Sends `exchange` to its target on an idle connection, a new one, or, when the
   * target already has `maxSockets` connections, after the next one frees up (like
   * HAProxy's `maxconn` per server; the wait is bounded by the busy ones' response timeout).
   */
  attempt(exchange: Exchange): void {
    const target = exchange.target;
    target.inFlight++;
    const connections = this.connectionsOf(target);
    const conn = connections.takeIdle() ?? (connections.count < this.maxSockets ? this.open(connections) : undefined);
    if (conn === undefined) connections.waiting.push(exchange);
    else this.dispatch(exchange, conn);
  }

  private dispatch(exchange: Exchange, conn: UpstreamConnection): void {
    const attempt = new Attempt(exchange, this, exchange.target, conn);
    conn.attempt = attempt;
    exchange.upstream = conn;
    attempt.start();
  }

  /** The next waiting exchange whose client is still there, or undefined. */
  private nextWaiting(connections: TargetConnections): Exchange | undefined {
    for (let exchange = connections.waiting.shift(); exchange !== undefined; exchange = connections.waiting.shift()) {
      if (!exchange.done) return exchange;
      exchange.target.inFlight--;
    }
    return undefined;
  }

  private connectionsOf(target: Target): TargetConnections {
    let connections = this.targets.get(target);
    if (connections === undefined) {
      connections = new TargetConnections(target);
      this.targets.set(target, connections);
    }
    return connections;
  }

  private open(connections: TargetConnections): UpstreamConnection {
    connections.count++;
    const conn = new UpstreamConnection(this, connections.target);
    this.all.add(conn);
    return conn;
  }

  /** A connection finished an exchange cleanly: it serves the next waiting exchange, or waits in the pool. */
  release(conn: UpstreamConnection): void {
    const connections = this.connectionsOf(conn.target);
    const next = this.nextWaiting(connections);
    if (next !== undefined) this.dispatch(next, conn);
    else connections.idle.push(conn);
  }

  /** A connection closed: it leaves the pool, and a waiting exchange may open a new one. */
  forget(conn: UpstreamConnection): void {
    if (!this.all.delete(conn)) return; // destroy() and 'close' both report it
    const connections = this.targets.get(conn.target);
    if (connections === undefined) return;
    connections.count--;
    const i = connections.idle.indexOf(conn);
    if (i >= 0) connections.idle.splice(i, 1);
    const next = connections.waiting.length > 0 ? this.nextWaiting(connections) : undefined;
    if (next !== undefined) this.dispatch(next, this.open(connections));
    else if (connections.count === 0) this.targets.delete(conn.target);
  }

  close(): void {
    for (const connections of this.targets.values()) connections.waiting.length = 0;
    for (const conn of [...this.all]) conn.destroy();
    this.targets.clear();
  }
}

/** The pooled connections of one target and the exchanges waiting for one. */
class TargetConnections {
  readonly target: Target;
  /** Idle connections, most recently used last. */
  readonly idle: UpstreamConnection[] = [];
  /** Open connections, idle or busy. */
  count = 0;
  readonly waiting: Exchange[] = [];

  constructor(target: Target) {
    this.target = target;
  }

  takeIdle(): UpstreamConnection | undefined {
    for (let conn = this.idle.pop(); conn !== undefined; conn = this.idle.pop()) {
      if (!conn.closed && !conn.socket.destroyed) return conn;
    }
    return undefined;
  }
}
