import type { PassiveHealth } from '../health/passive.js';
import type { Target } from '../pool/target.js';
import { BufferBudget, ReadAheadBody } from './body-buffer.js';
import type { Exchange, Forwarder } from './exchange.js';
import { checkParserBinding } from './llhttp-binding.js';
import { respondError } from './respond.js';
import { type ConnectionPool, UpstreamConnection } from './upstream-connection.js';
import { Attempt, type AttemptHost } from './attempt.js';
import { failureResponse } from './upstream-errors.js';

/** Upstream pool and request-path limits of the forwarder. */
export interface RawForwarderOptions {
  /** Idle pooled connections close after this (ms); below the upstream's keep-alive timeout. */
  readonly idleTimeout: number;
  /** Most connections per target. */
  readonly maxSockets: number;
  /** Largest upstream response head, in bytes. */
  readonly maxHeaderSize?: number;
  /** Request bodies are read up to this many bytes before an upstream connection is taken (`limits.request_buffer`). */
  readonly requestBuffer: number;
  /** Bytes all read-ahead request buffers of the process may hold together (`limits.request_buffer_total`). */
  readonly requestBufferTotal: number;
  /** How long a client may leave response bytes unread (`limits.send_timeout`). */
  readonly sendTimeout: number;
  /** Bytes of one response a slow client may leave on disk while its upstream connection is freed (`limits.response_spool`; 0: off). */
  readonly responseSpool?: number;
  /** Bytes the spools of the process may hold on disk together (`limits.response_spool_total`). */
  readonly responseSpoolTotal?: number;
}

function ignoreError(): void {}

/**
 * Forwards over raw keep-alive `net.Socket`s, parsing upstream responses strictly with
 * Node's own llhttp binding (src/proxy/llhttp-binding.ts). Request bodies are read ahead
 * before a connection is taken; retries follow `shouldRetry`, failures map to 502/504 by
 * `failureResponse`, outcomes feed passive health and the meters. WebSocket upgrades stay
 * with http-proxy.
 */
export class RawForwarder implements Forwarder, ConnectionPool, AttemptHost {
  readonly passive: PassiveHealth;
  readonly idleTimeout: number;
  readonly maxSockets: number;
  readonly maxHeaderSize: number;
  readonly sendTimeout: number;
  /** Bytes one response may spool to disk for a slow client; 0: the upstream is paused instead. */
  readonly responseSpool: number;
  /** What the response spools' temp files of this process hold together. */
  readonly spoolDisk: BufferBudget;
  /** Read-ahead limit per request body, bytes. */
  readonly requestBuffer: number;
  /** What read-ahead buffers of this process hold together. */
  readonly budget: BufferBudget;
  /** Connections and waiting exchanges per target. */
  private readonly targets = new Map<Target, TargetConnections>();
  private readonly all = new Set<UpstreamConnection>();

  /** Throws when Node's parser binding fails its self-check, so a broken Node stops the start. */
  constructor(options: RawForwarderOptions, passive: PassiveHealth) {
    checkParserBinding();
    this.idleTimeout = options.idleTimeout;
    this.maxSockets = options.maxSockets;
    this.maxHeaderSize = options.maxHeaderSize ?? 65_536;
    this.sendTimeout = options.sendTimeout;
    this.responseSpool = options.responseSpool ?? 1_073_741_824;
    this.spoolDisk = new BufferBudget(options.responseSpoolTotal ?? 4_294_967_296);
    this.requestBuffer = options.requestBuffer;
    this.budget = new BufferBudget(options.requestBufferTotal);
    this.passive = passive;
  }

  /** A request without a body goes at once; one with a body after its read-ahead; a pipelined one after the one before it. */
  forward(exchange: Exchange): void {
    if (exchange.waitTurn(this.forwardNow)) return;
    this.forwardNow(exchange);
  }

  private readonly forwardNow = (exchange: Exchange): void => {
    if (!exchange.hasBody) {
      this.attempt(exchange);
      return;
    }
    exchange.req.on('error', ignoreError);
    exchange.body = new ReadAheadBody(exchange.req, this.requestBuffer, this.budget, exchange, this.bodyRead);
  };

  /** The read-ahead ended: forward, to another target when the chosen one went down meanwhile. */
  private readonly bodyRead = (exchange: Exchange): void => {
    if (exchange.done) return;
    const chosen = exchange.target;
    if (!chosen.isAvailable(Date.now())) exchange.target = exchange.pool.pick(chosen) ?? chosen;
    this.attempt(exchange);
  };

  /**
   * Sends `exchange` to its target on an idle connection, a new one, or, when the
   * target already has `maxSockets` connections, after the next one frees up (like
   * HAProxy's `maxconn` per server). The wait is bounded by the route's response timeout,
   * past which the client gets 503 UPSTREAM_BUSY (HAProxy's `timeout queue`).
   */
  attempt(exchange: Exchange): void {
    const target = exchange.target;
    target.beginRequest();
    const connections = this.connectionsOf(target);
    const conn = connections.takeIdle() ?? (connections.count < this.maxSockets ? this.open(connections) : undefined);
    if (conn !== undefined) {
      this.dispatch(exchange, conn);
      return;
    }
    connections.waiting.push(exchange);
    exchange.queueTimer = setTimeout(queueTimedOut, exchange.route.responseTimeout, connections, exchange);
  }

  private dispatch(exchange: Exchange, conn: UpstreamConnection): void {
    if (exchange.queueTimer !== undefined) {
      clearTimeout(exchange.queueTimer);
      exchange.queueTimer = undefined;
    }
    exchange.upstream = conn;
    new Attempt(exchange, this, conn).start();
  }

  /** The next waiting exchange whose client is still there, or undefined. */
  private nextWaiting(connections: TargetConnections): Exchange | undefined {
    for (let exchange = connections.waiting.shift(); exchange !== undefined; exchange = connections.waiting.shift()) {
      if (!exchange.done) return exchange;
      exchange.target.endRequest();
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
    for (const connections of this.targets.values()) {
      for (const exchange of connections.waiting) clearTimeout(exchange.queueTimer);
      connections.waiting.length = 0;
    }
    for (const conn of [...this.all]) conn.destroy();
    this.targets.clear();
  }
}

/** An exchange waited the route's response timeout for a free connection: 503, the target not blamed. */
function queueTimedOut(connections: TargetConnections, exchange: Exchange): void {
  exchange.queueTimer = undefined;
  const i = connections.waiting.indexOf(exchange);
  if (i < 0) return;
  connections.waiting.splice(i, 1);
  exchange.target.endRequest();
  if (exchange.done) return;
  respondError(
    exchange.res,
    failureResponse('queue').code,
    `service "${exchange.route.name}" stack "${exchange.pool.name}": every connection to ${exchange.target.address} stayed busy (upstream.max_sockets) for the response timeout`,
  );
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
