import type { ServerResponse } from 'node:http';
import type { PassiveHealth } from '../health/passive.js';
import type { UpstreamErrorKind } from '../pool/stack-meter.js';
import type { Target } from '../pool/target.js';
import type { BufferBudget } from './body-buffer.js';
import type { Exchange } from './exchange.js';
import { responseHeaders, trailerPairs } from './headers.js';
import { respondError } from './respond.js';
import { ResponseSpool } from './response-spool.js';
import type { ConnectionUser, UpstreamConnection } from './upstream-connection.js';
import { failureResponse, isTargetFault, shouldRetry } from './upstream-errors.js';

type ErrnoError = NodeJS.ErrnoException;

/** What an attempt needs from the forwarder that runs it. */
export interface AttemptHost {
  readonly passive: PassiveHealth;
  /** How long a client may leave response bytes unread (ms). */
  readonly sendTimeout: number;
  /** Bytes of one response a slow client may leave on disk (0: no spool). */
  readonly responseSpool: number;
  /** What the spools of the process may hold on disk together. */
  readonly spoolDisk: BufferBudget;
  /** Sends `exchange` again (a retry on its new target). */
  attempt(exchange: Exchange): void;
}

/** One try of an exchange against one target, on one connection. */
export class Attempt implements ConnectionUser {
  readonly exchange: Exchange;
  readonly forwarder: AttemptHost;
  readonly target: Target;
  readonly conn: UpstreamConnection;
  /** The response completed or the attempt failed; later events are ignored. */
  settled = false;
  /** The request went out in full (or has no body). */
  bodyDone: boolean;
  /** The body streams chunk-encoded (a chunked client body longer than the read-ahead buffer). */
  chunked = false;

  constructor(exchange: Exchange, forwarder: AttemptHost, conn: UpstreamConnection) {
    this.exchange = exchange;
    this.forwarder = forwarder;
    this.target = exchange.target;
    this.conn = conn;
    this.bodyDone = !exchange.hasBody;
  }

  get client(): ServerResponse | undefined {
    return this.exchange.done ? undefined : this.exchange.res;
  }

  get spool(): ResponseSpool | undefined {
    return this.exchange.spool;
  }

  startSpool(): ResponseSpool | undefined {
    const limit = this.forwarder.responseSpool;
    if (limit === 0) return undefined;
    const exchange = this.exchange;
    exchange.spool = new ResponseSpool(exchange.res, limit, this.forwarder.spoolDisk, this.forwarder.sendTimeout, exchange);
    return exchange.spool;
  }

  /**
   * Writes the request head, and the body when it was read whole (with a Content-Length,
   * also when the client sent it chunked); a longer body streams once connected.
   */
  start(): void {
    const exchange = this.exchange;
    const req = exchange.req;
    const body = exchange.body;
    const whole = body?.complete ? body.data : undefined;
    const h = exchange.headers;
    let head = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
    for (let i = 0; i < h.length; i += 2) {
      const name = h[i] as string;
      if (exchange.hasBody && name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
        if (whole !== undefined) head += `Content-Length: ${whole.length}\r\n`;
        else {
          this.chunked = true;
          head += 'Transfer-Encoding: chunked\r\n';
        }
        continue;
      }
      head += `${name}: ${h[i + 1] as string}\r\n`;
    }
    head += 'Connection: keep-alive\r\n\r\n';
    const conn = this.conn;
    conn.begin(this, exchange.route.responseTimeout);
    const socket = conn.socket;
    if (whole !== undefined) {
      // The whole body is kept: a failed attempt can send it again, so bodySent stays false.
      socket.cork();
      socket.write(head, 'latin1');
      if (whole.length > 0) socket.write(whole);
      socket.uncork();
      this.bodyDone = true;
      return;
    }
    socket.write(head, 'latin1');
    if (exchange.hasBody && conn.connected) this.sendBody();
  }

  onConnect(): void {
    if (this.exchange.hasBody && !this.bodyDone && !this.exchange.bodySent && !this.settled) this.sendBody();
  }

  /** Sends what was read ahead, then streams the rest of the client's body with backpressure; chunk-encodes when the client sent chunked. */
  private sendBody(): void {
    const exchange = this.exchange;
    const req = exchange.req;
    const socket = this.conn.socket;
    exchange.bodySent = true;
    const chunked = this.chunked;
    // All three parts of a chunk are written even when the socket pushes back: `a && b && c`
    // would drop the data and its CRLF after a size line that filled the buffer.
    const write = (chunk: Buffer): boolean => {
      if (!chunked) return socket.write(chunk);
      socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      socket.write(chunk);
      return socket.write('\r\n', 'latin1');
    };
    const start = exchange.body?.data;
    if (start !== undefined && start.length > 0) write(start);
    const onData = (chunk: Buffer): void => {
      if (this.settled || socket.destroyed) return;
      if (!write(chunk)) {
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
    req.resume();
    if (req.readableEnded) onEnd();
  }

  onHead(status: number, message: string, headers: string[]): number {
    const exchange = this.exchange;
    exchange.responded = true;
    const passive = this.forwarder.passive;
    if (status >= 500) {
      passive.failure(this.target, exchange.pool.targets);
      exchange.pool.meter.upstreamError(this.target, '5xx');
    } else {
      passive.success(this.target);
    }
    if (!exchange.done) exchange.res.writeHead(status, message, responseHeaders(headers, exchange.extraHeaders));
    return exchange.req.method === 'HEAD' ? 1 : 0;
  }

  onComplete(trailers: string[] | undefined): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.target.endRequest();
    const exchange = this.exchange;
    exchange.upstream = undefined;
    if (!exchange.done) {
      const spool = exchange.spool;
      if (spool !== undefined) spool.end(trailers === undefined ? undefined : trailerPairs(trailers));
      else {
        if (trailers !== undefined) exchange.res.addTrailers(trailerPairs(trailers));
        exchange.res.end();
        exchange.responseEnded();
      }
    }
    return this.bodyDone;
  }

  onFail(kind: UpstreamErrorKind, err: ErrnoError, reusedSocket: boolean): void {
    if (this.settled) return;
    this.settled = true;
    this.target.endRequest();
    const exchange = this.exchange;
    if (exchange.done) return;
    exchange.pool.meter.upstreamError(this.target, kind);
    if (isTargetFault(kind, reusedSocket)) this.forwarder.passive.failure(this.target, exchange.pool.targets);
    if (exchange.responded) {
      exchange.res.destroy();
      return;
    }
    const facts = { kind, method: exchange.req.method ?? 'GET', retries: exchange.retries, responded: false, bodySent: exchange.bodySent, reusedSocket };
    if (shouldRetry(facts)) {
      // A stale pooled socket says nothing about the target: the same one may be tried again.
      const next = exchange.pool.pick(this.target) ?? (kind === 'reset' ? this.target : undefined);
      if (next !== undefined) {
        exchange.retries++;
        exchange.target = next;
        this.forwarder.attempt(exchange);
        return;
      }
    }
    const failure = failureResponse(kind);
    respondError(
      exchange.res,
      failure.code,
      `service "${exchange.route.name}" stack "${exchange.pool.name}": upstream ${this.target.address} failed (${kind}: ${err.code ?? err.message})`,
    );
  }
}
