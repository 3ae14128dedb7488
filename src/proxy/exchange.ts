import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { StackPool } from '../pool/stack-pool.js';
import type { Target } from '../pool/target.js';
import type { ServiceRoute } from '../routing/service-route.js';
import type { ReadAheadBody } from './body-buffer.js';
import type { ResponseSpool } from './response-spool.js';

const kLive = Symbol('switchyard.liveExchanges');
const kPipelined = Symbol('switchyard.pipelinedExchanges');
type ClientSocket = Socket & { [kLive]?: Set<Exchange>; [kPipelined]?: Exchange[] };

/**
 * The client connection closed: abandon every exchange still open on it. The response
 * of a pipelined request that is still queued behind another never emits 'close' itself,
 * so without this its upstream connection would be held until the response timeout.
 * Pipelined requests still waiting their turn are dropped first, so none starts now.
 */
function onClientSocketClose(this: ClientSocket): void {
  const waiting = this[kPipelined];
  if (waiting !== undefined) waiting.length = 0;
  const live = this[kLive];
  if (live !== undefined) for (const exchange of live) exchange.abandon();
}

const kExchange = Symbol('switchyard.exchange');
type ClientResponse = ServerResponse & { [kExchange]?: Exchange };

/** The client response closed: complete, or cut short (499) and then the upstream side is stopped. */
function onClientClose(this: ClientResponse): void {
  const exchange = this[kExchange];
  if (exchange === undefined) return;
  exchange.done = true;
  if (!this.writableFinished) exchange.upstream?.destroy();
  exchange.finish(this.writableFinished ? this.statusCode : 499);
}

/** What the request path hands a forwarder for one request. */
export interface ExchangeOptions {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly route: ServiceRoute;
  readonly pool: StackPool;
  /** Target chosen for the first attempt. */
  readonly target: Target;
  /** Headers for the upstream request, flat. */
  readonly headers: string[];
  /** The request has a body (a Content-Length above 0, or Transfer-Encoding). */
  readonly hasBody: boolean;
  /** Headers switchyard adds to the response (sticky cookie, HSTS), flat, or undefined. */
  readonly extraHeaders: readonly string[] | undefined;
  /** performance.now() at arrival. */
  readonly startedAt: number;
  /** Logger for one line per request, when `logging.access_log` is on. */
  readonly accessLog: Logger | undefined;
}

/** One client request on its way through the forwarder; the forwarder's only per-request object. */
export class Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly route: ServiceRoute;
  readonly pool: StackPool;
  /** Target of the current attempt. */
  target: Target;
  /** Headers for the upstream request. */
  readonly headers: string[];
  readonly hasBody: boolean;
  /** Headers switchyard adds to the response (sticky cookie, HSTS), flat, or undefined. */
  readonly extraHeaders: readonly string[] | undefined;
  /** performance.now() at arrival. */
  readonly startedAt: number;
  /** Logger for one line per request, when `logging.access_log` is on. */
  readonly accessLog: Logger | undefined;
  /** The request body read ahead of the first attempt (whole, or its start), when there is one. */
  body: ReadAheadBody<Exchange> | undefined = undefined;
  retries = 0;
  /** The upstream's response head arrived. */
  responded = false;
  /** Request body bytes that cannot be sent again (streamed from the client) were handed to an upstream. */
  bodySent = false;
  /** The running upstream request, aborted when the client leaves. */
  upstream: { destroy(): unknown } | undefined = undefined;
  /** What the client has not taken yet of the response, while it is behind (created at the first push-back only). */
  spool: ResponseSpool | undefined = undefined;
  /** Set while waiting for a free upstream connection: ends the wait after the route's response timeout. */
  queueTimer: NodeJS.Timeout | undefined = undefined;
  /** The response to the client is complete or the exchange was abandoned. */
  done = false;
  /** finish() ran. */
  private finished = false;
  /** Open exchanges of the same client connection. */
  private readonly live: Set<Exchange>;
  /** The client connection. */
  private readonly socket: ClientSocket;
  /** Set while this pipelined request waits for the one before it: what forwards it then. */
  private turn: ((exchange: Exchange) => void) | undefined = undefined;
  /** This exchange's response was handed over whole (or it ended): the next pipelined request of the connection may go. */
  private passedTurn = false;

  /** Also watches the client: its response closing, or its connection closing, ends the exchange. */
  constructor(options: ExchangeOptions) {
    this.req = options.req;
    this.res = options.res;
    this.route = options.route;
    this.pool = options.pool;
    this.target = options.target;
    this.headers = options.headers;
    this.hasBody = options.hasBody;
    this.extraHeaders = options.extraHeaders;
    this.startedAt = options.startedAt;
    this.accessLog = options.accessLog;
    const socket = this.req.socket as ClientSocket;
    let live = socket[kLive];
    if (live === undefined) {
      live = socket[kLive] = new Set();
      socket.once('close', onClientSocketClose);
    }
    live.add(this);
    this.live = live;
    this.socket = socket;
    const res = this.res as ClientResponse;
    res[kExchange] = this;
    res.on('close', onClientClose);
  }

  /**
   * HTTP/1.1 pipelining: when an earlier request of the same connection has not had its
   * response handed over whole yet, this one waits (holding no upstream connection and
   * no body buffer) and `start` runs when that response ended; returns true then. One
   * request at a time per connection, as nginx: otherwise a client pipelining hundreds of
   * requests it never reads takes an upstream connection for each. A keep-alive client
   * whose next request arrives before Node reports the last response flushed does not
   * wait. HTTP/2 streams are independent.
   */
  waitTurn(start: (exchange: Exchange) => void): boolean {
    if (this.live.size === 1 || this.req.httpVersionMajor !== 1 || !this.behindAnother()) return false;
    const socket = this.socket;
    let waiting = socket[kPipelined];
    if (waiting === undefined) waiting = socket[kPipelined] = [];
    this.turn = start;
    waiting.push(this);
    return true;
  }

  /** Switchyard ended the client response (all of it handed to Node): a pipelined request waiting behind it goes next. */
  responseEnded(): void {
    // After the current call stack: the upstream connection this response used is released
    // right after, so the next request can take it.
    if (this.turn === undefined && !this.passedTurn && this.live.size > 1) process.nextTick(passTurnOf, this);
  }

  /** The spool ran empty before the response ended: the client takes bytes directly again. */
  spoolEmptied(spool: ResponseSpool): void {
    if (this.spool === spool) this.spool = undefined;
  }

  /** The client left before its response was complete: stop the upstream side. */
  abandon(): void {
    if (this.finished) return;
    this.done = true;
    this.upstream?.destroy();
    this.finish(499);
  }

  /** Records the finished exchange once: metrics, and the access log when enabled. 499 = client went away. */
  finish(status: number): void {
    if (this.finished) return;
    this.finished = true;
    this.live.delete(this);
    // Waiting pipelined requests are live too: none waits when the set is now empty.
    if (this.turn === undefined && this.live.size > 0) this.passTurn();
    if (this.body !== undefined) {
      this.body.release();
      this.body = undefined;
    }
    if (this.spool !== undefined) {
      this.spool.destroy();
      this.spool = undefined;
    }
    if (this.queueTimer !== undefined) {
      clearTimeout(this.queueTimer);
      this.queueTimer = undefined;
    }
    const seconds = (performance.now() - this.startedAt) / 1000;
    this.pool.meter.response(status, seconds);
    this.accessLog?.info(
      {
        service: this.route.name,
        stack: this.pool.name,
        target: this.target.address,
        method: this.req.method,
        url: this.req.url,
        status,
        ms: Math.round(seconds * 1000),
        retries: this.retries,
      },
      'access',
    );
  }

  /** Another exchange of the connection is waiting, or still has its response to hand over. */
  private behindAnother(): boolean {
    for (const other of this.live) if (other !== this && (other.turn !== undefined || !other.passedTurn)) return true;
    return false;
  }

  /** This exchange (not a waiting one) handed its response over or ended: the next pipelined request of the connection, if any, goes now (once). */
  passTurn(): void {
    if (this.passedTurn) return;
    this.passedTurn = true;
    const waiting = this.socket[kPipelined];
    if (waiting === undefined) return;
    for (let next = waiting.shift(); next !== undefined; next = waiting.shift()) {
      const start = next.turn;
      next.turn = undefined;
      if (start !== undefined && !next.done && !next.finished) {
        start(next);
        return;
      }
    }
  }
}

function passTurnOf(exchange: Exchange): void {
  exchange.passTurn();
}

/** Forwards exchanges to their target: what the request path calls. */
export interface Forwarder {
  /** Sends the exchange upstream and streams the answer back (body read-ahead, retries, timeouts, errors included). */
  forward(exchange: Exchange): void;
  /** Releases pooled upstream connections. */
  close(): void;
}
