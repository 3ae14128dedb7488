import { Agent, request, type ClientRequest, type IncomingMessage } from 'node:http';
import type { NetConnectOpts, Socket } from 'node:net';
import type { PassiveHealth } from '../health/passive.js';
import type { Target } from '../pool/target.js';
import { bufferedBody } from './body-buffer.js';
import { connectOrFail } from '../net/connect.js';
import { responseHeaders, trailerPairs } from './headers.js';
import { startExchange, type Exchange, type Forwarder } from './exchange.js';
import { respondError } from './respond.js';
import { classifyUpstreamError, isTargetFault, shouldRetry, statusForFailure, type UpstreamErrorKind } from './upstream-errors.js';

/** Upstream connection pool settings. */
export interface HttpForwarderOptions {
  /** Idle pooled sockets close after this (ms); below the upstream's keep-alive timeout. */
  readonly idleTimeout: number;
  /** Most sockets per target. */
  readonly maxSockets: number;
}

/** One try of an exchange against one target. */
class Attempt {
  readonly exchange: Exchange;
  readonly forwarder: HttpForwarder;
  readonly target: Target;
  /** The timeout fired (the error that follows is a timeout). */
  timedOut = false;
  /** The timeout fired before the connection was established. */
  timedOutConnecting = false;
  /** Error or completion was handled; later events of this attempt are ignored. */
  settled = false;

  constructor(exchange: Exchange, forwarder: HttpForwarder, target: Target) {
    this.exchange = exchange;
    this.forwarder = forwarder;
    this.target = target;
  }
}

const kAttempt = Symbol('switchyard.attempt');
type UpstreamRequest = ClientRequest & { [kAttempt]: Attempt };
type UpstreamResponse = IncomingMessage & { [kAttempt]?: Attempt };

/**
 * Forwards with node:http over a keep-alive agent. The engine decides nothing about
 * routing: it sends, streams, retries by `shouldRetry`, and maps failures to 502/504.
 * Event handlers are module-level functions, so no closures are made per request.
 */
export class HttpForwarder implements Forwarder {
  readonly agent: Agent;
  readonly passive: PassiveHealth;

  constructor(options: HttpForwarderOptions, passive: PassiveHealth) {
    // `timeout` closes idle pooled sockets (Node's agent destroys free sockets on timeout)
    // and also honours a shorter `Keep-Alive: timeout=` hint from the upstream.
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: options.maxSockets,
      maxFreeSockets: options.maxSockets,
      timeout: options.idleTimeout,
      scheduling: 'lifo',
    });
    // A target net.connect refuses then fails the attempt (502) instead of throwing out of request().
    this.agent.createConnection = (connectOptions) => connectOrFail(connectOptions as NetConnectOpts);
    this.passive = passive;
  }

  forward(exchange: Exchange): void {
    startExchange(exchange, this.start);
  }

  /** `attempt`, bound once: what startExchange calls (at once, or after buffering a small body). */
  private readonly start = (exchange: Exchange): void => this.attempt(exchange);

  /** Starts one attempt at `exchange.target`. */
  attempt(exchange: Exchange): void {
    const target = exchange.target;
    const attempt = new Attempt(exchange, this, target);
    target.inFlight++;
    const req = exchange.req;
    const upstream = request({
      host: target.host,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: exchange.headers,
      agent: this.agent,
      setHost: false,
      timeout: exchange.route.responseTimeout,
    }) as UpstreamRequest;
    upstream[kAttempt] = attempt;
    exchange.upstream = upstream;
    upstream.on('response', onUpstreamResponse);
    upstream.on('error', onUpstreamError);
    upstream.on('timeout', onUpstreamTimeout);
    upstream.on('close', onUpstreamClose);
    if (exchange.hasBody) upstream.once('socket', onUpstreamSocket);
    else upstream.end();
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Body bytes go out only once the connection is up, so a connect failure can be retried with the body intact. */
function onUpstreamSocket(this: UpstreamRequest, socket: Socket): void {
  if (socket.connecting) socket.once('connect', () => sendBody(this));
  else sendBody(this);
}

function sendBody(upstream: UpstreamRequest): void {
  const attempt = upstream[kAttempt];
  if (attempt.settled || upstream.destroyed) return;
  const buffered = bufferedBody(attempt.exchange);
  if (buffered !== undefined) {
    // The whole body is kept: a failed attempt can send it again, so bodySent stays false.
    upstream.end(buffered);
    return;
  }
  attempt.exchange.bodySent = true;
  attempt.exchange.req.pipe(upstream);
}

function onUpstreamResponse(this: UpstreamRequest, upstreamRes: UpstreamResponse): void {
  const attempt = this[kAttempt];
  const exchange = attempt.exchange;
  const status = upstreamRes.statusCode ?? 502;
  exchange.responded = true;
  if (status >= 500) {
    attempt.forwarder.passive.failure(attempt.target);
    exchange.pool.meter.upstreamError(attempt.target, '5xx');
  } else {
    attempt.forwarder.passive.success(attempt.target);
  }
  if (exchange.done) {
    upstreamRes.resume();
    return;
  }
  const res = exchange.res;
  res.writeHead(status, upstreamRes.statusMessage, responseHeaders(upstreamRes.rawHeaders, exchange.extraHeaders));
  upstreamRes[kAttempt] = attempt;
  upstreamRes.on('error', onUpstreamBodyError);
  // Before pipe(), so the trailers are added before pipe ends the client response.
  upstreamRes.once('end', onUpstreamEnd);
  upstreamRes.pipe(res);
}

/** Passes the upstream's trailer fields on (they arrive with the end of the body). */
function onUpstreamEnd(this: UpstreamResponse): void {
  const attempt = this[kAttempt];
  if (attempt !== undefined && this.rawTrailers.length > 0 && !attempt.exchange.done) attempt.exchange.res.addTrailers(trailerPairs(this.rawTrailers));
}

/** The upstream broke off mid-body: the client's response cannot be completed, so cut it. */
function onUpstreamBodyError(this: UpstreamResponse, err: Error): void {
  const attempt = this[kAttempt];
  if (attempt === undefined) return;
  attempt.exchange.pool.meter.upstreamError(attempt.target, classifyUpstreamError(err as NodeJS.ErrnoException, true));
  attempt.exchange.res.destroy();
}

function onUpstreamTimeout(this: UpstreamRequest): void {
  const attempt = this[kAttempt];
  attempt.timedOut = true;
  attempt.timedOutConnecting = this.socket?.connecting === true;
  this.destroy(new Error('upstream timed out'));
}

function onUpstreamClose(this: UpstreamRequest): void {
  this[kAttempt].target.inFlight--;
}

function onUpstreamError(this: UpstreamRequest, err: NodeJS.ErrnoException): void {
  const attempt = this[kAttempt];
  if (attempt.settled) return;
  attempt.settled = true;
  const exchange = attempt.exchange;
  if (exchange.done) return;
  const kind: UpstreamErrorKind = attempt.timedOut ? (attempt.timedOutConnecting ? 'connect' : 'timeout') : classifyUpstreamError(err, true);
  exchange.pool.meter.upstreamError(attempt.target, kind);
  if (isTargetFault(kind, this.reusedSocket)) attempt.forwarder.passive.failure(attempt.target);
  if (exchange.responded) {
    exchange.res.destroy();
    return;
  }
  const facts = {
    kind,
    method: exchange.req.method ?? 'GET',
    retries: exchange.retries,
    responded: false,
    bodySent: exchange.bodySent,
    reusedSocket: this.reusedSocket,
  };
  if (shouldRetry(facts)) {
    // A stale pooled socket says nothing about the target: the same one may be tried again.
    const next = exchange.pool.pick(attempt.target) ?? (kind === 'reset' ? attempt.target : undefined);
    if (next !== undefined) {
      exchange.retries++;
      exchange.target = next;
      attempt.forwarder.attempt(exchange);
      return;
    }
  }
  const status = statusForFailure(kind);
  respondError(
    exchange.res,
    status === 504 ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_FAILED',
    `service "${exchange.route.name}" stack "${exchange.pool.name}": upstream ${attempt.target.address} failed (${kind}: ${err.code ?? err.message})`,
  );
}
