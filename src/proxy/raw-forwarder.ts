import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { PassiveHealth } from '../health/passive.js';
import type { Target } from '../pool/target.js';
import type { Exchange, Forwarder } from './exchange.js';
import { responseHeaders } from './headers.js';
import { respondError } from './respond.js';
import { classifyUpstreamError, shouldRetry, statusForFailure, type UpstreamErrorKind } from './upstream-errors.js';

/** The slice of Node's llhttp binding this engine uses (`_http_common`, what node:http itself parses with). */
interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  finish(): undefined | Error;
  free(): void;
  [key: number]: unknown;
}
interface LlhttpParserClass {
  new (): LlhttpParser;
  readonly RESPONSE: number;
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly kOnBody: number;
  readonly kOnMessageComplete: number;
}
const { HTTPParser } = createRequire(import.meta.url)('_http_common') as { HTTPParser: LlhttpParserClass };

/** Upstream connection pool settings (same meaning as for the node engine). */
export interface RawForwarderOptions {
  readonly idleTimeout: number;
  readonly maxSockets: number;
  readonly maxHeaderSize?: number;
}

type ErrnoError = NodeJS.ErrnoException;

/** One kept-alive connection to one target with its own response parser. */
class UpstreamConnection {
  readonly socket: Socket;
  readonly parser: LlhttpParser;
  readonly forwarder: RawForwarder;
  readonly target: Target;
  /** The request currently on this connection. */
  attempt: Attempt | undefined = undefined;
  connected = false;
  /** Served at least one exchange (a failure before any response byte is the keep-alive race). */
  reused = false;
  closed = false;
  /** Header pairs flushed early by the parser (heads spanning several reads). */
  pendingHeaders: string[] | undefined = undefined;

  constructor(forwarder: RawForwarder, target: Target) {
    this.forwarder = forwarder;
    this.target = target;
    const parser = new HTTPParser();
    parser.initialize(HTTPParser.RESPONSE, {}, forwarder.maxHeaderSize, 0);
    const self = this;
    parser[HTTPParser.kOnHeaders] = function onHeaders(headers: string[]): void {
      self.pendingHeaders = self.pendingHeaders === undefined ? headers : self.pendingHeaders.concat(headers);
    };
    parser[HTTPParser.kOnHeadersComplete] = function onHeadersComplete(_major: number, _minor: number, headers: string[] | undefined, _method: unknown, _url: unknown, status: number, message: string, upgrade: boolean, keepAlive: boolean): number {
      let all = headers ?? [];
      if (self.pendingHeaders !== undefined) {
        all = self.pendingHeaders.concat(all);
        self.pendingHeaders = undefined;
      }
      return self.onHead(status, message, all, upgrade, keepAlive);
    };
    parser[HTTPParser.kOnBody] = function onBody(chunk: Buffer): void {
      self.onBody(chunk);
    };
    parser[HTTPParser.kOnMessageComplete] = function onMessageComplete(): void {
      self.onComplete();
    };
    this.parser = parser;
    const socket = connect({ host: target.host, port: target.port });
    socket.setNoDelay(true);
    this.socket = socket;
    socket.on('connect', () => {
      this.connected = true;
      const attempt = this.attempt;
      if (attempt !== undefined) attempt.onConnect();
    });
    socket.on('data', (data: Buffer) => {
      const result = this.parser.execute(data);
      if (result instanceof Error) this.fail(result as ErrnoError);
    });
    socket.on('end', () => {
      if (this.attempt !== undefined && this.attempt.exchange.responded && !this.attempt.complete) {
        const result = this.parser.finish();
        if (result instanceof Error) this.fail(result as ErrnoError);
      }
      socket.destroy();
    });
    socket.on('timeout', () => {
      const attempt = this.attempt;
      if (attempt === undefined) {
        this.destroy(); // idle too long in the pool
        return;
      }
      attempt.timedOut = true;
      attempt.timedOutConnecting = !this.connected;
      this.fail(Object.assign(new Error('upstream timed out'), { code: 'ETIMEDOUT' }));
    });
    socket.on('error', (err: ErrnoError) => this.fail(err));
    socket.on('close', () => {
      this.closed = true;
      this.forwarder.forget(this);
      if (this.attempt !== undefined) this.fail(Object.assign(new Error('upstream closed the connection'), { code: 'ECONNRESET' }));
      this.parser.free();
    });
  }

  /** Aborts the connection (client went away, broken framing): never pooled again. */
  destroy(): void {
    this.closed = true;
    this.forwarder.forget(this);
    this.socket.destroy();
  }

  onHead(status: number, message: string, headers: string[], upgrade: boolean, keepAlive: boolean): number {
    const attempt = this.attempt;
    if (attempt === undefined) return 0;
    if (status >= 100 && status < 200) {
      if (status === 101 || upgrade) {
        this.fail(Object.assign(new Error('unexpected upgrade from upstream'), { code: 'HPE_UNEXPECTED_UPGRADE' }));
        return 2;
      }
      attempt.informational = true;
      return 1;
    }
    attempt.informational = false;
    attempt.keepAlive = keepAlive;
    return attempt.onHead(status, message, headers);
  }

  onBody(chunk: Buffer): void {
    const attempt = this.attempt;
    if (attempt === undefined || attempt.exchange.done) return;
    const res = attempt.exchange.res;
    if (!res.write(chunk)) {
      this.socket.pause();
      res.once('drain', () => this.socket.resume());
    }
  }

  onComplete(): void {
    const attempt = this.attempt;
    if (attempt === undefined) return;
    if (attempt.informational) {
      attempt.informational = false;
      return;
    }
    attempt.complete = true;
    this.attempt = undefined;
    attempt.end();
    if (!attempt.exchange.done) attempt.exchange.res.end();
    if (attempt.keepAlive && attempt.bodyDone && !this.closed) {
      this.reused = true;
      this.socket.setTimeout(this.forwarder.idleTimeout);
      this.forwarder.release(this);
    } else {
      this.destroy();
    }
  }

  fail(err: ErrnoError): void {
    const attempt = this.attempt;
    this.attempt = undefined;
    this.destroy();
    if (attempt !== undefined) attempt.fail(err, this.reused);
  }
}

/** One try of an exchange against one target. */
class Attempt {
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
    const buffered = exchange.hasBody ? replayable.get(exchange) : undefined;
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
      const ok = chunked ? socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1') && socket.write(chunk) && socket.write('\r\n', 'latin1') : socket.write(chunk);
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
    if (kind === 'connect') this.forwarder.passive.failure(this.target);
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
    respondError(exchange.res, status === 504 ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_FAILED', `service "${exchange.route.name}" stack "${exchange.pool.name}": upstream ${this.target.address} failed (${kind}: ${err.code ?? err.message})`);
  }
}

const kExchange = Symbol('switchyard.raw.exchange');
type ClientResponse = Exchange['res'] & { [kExchange]?: Exchange };

/**
 * Forwards over raw keep-alive `net.Socket`s, parsing upstream responses strictly with
 * Node's own llhttp binding. Same decisions as the node engine (retries by `shouldRetry`,
 * 502/504, passive feed, meters); WebSocket upgrades stay with http-proxy.
 */
export class RawForwarder implements Forwarder {
  readonly passive: PassiveHealth;
  readonly log: Logger;
  readonly idleTimeout: number;
  readonly maxSockets: number;
  readonly maxHeaderSize: number;
  /** Idle connections per target, most recently used last. */
  private readonly idle = new Map<Target, UpstreamConnection[]>();
  private readonly all = new Set<UpstreamConnection>();

  constructor(options: RawForwarderOptions, passive: PassiveHealth, log: Logger) {
    this.idleTimeout = options.idleTimeout;
    this.maxSockets = options.maxSockets;
    this.maxHeaderSize = options.maxHeaderSize ?? 65_536;
    this.passive = passive;
    this.log = log;
  }

  forward(exchange: Exchange): void {
    const res = exchange.res as ClientResponse;
    res[kExchange] = exchange;
    res.on('close', onClientClose);
    if (exchange.hasBody) {
      exchange.req.on('error', ignoreError);
      const length = Number(exchange.req.headers['content-length']);
      if (exchange.req.headers['transfer-encoding'] === undefined && length <= REPLAYABLE_BODY_LIMIT) {
        bufferBody(this, exchange, length);
        return;
      }
    }
    this.attempt(exchange);
  }

  attempt(exchange: Exchange): void {
    const target = exchange.target;
    target.inFlight++;
    const conn = this.take(target) ?? this.open(target);
    const attempt = new Attempt(exchange, this, target, conn);
    conn.attempt = attempt;
    exchange.upstream = conn;
    attempt.start();
  }

  private take(target: Target): UpstreamConnection | undefined {
    const list = this.idle.get(target);
    if (list === undefined) return undefined;
    for (let conn = list.pop(); conn !== undefined; conn = list.pop()) {
      if (!conn.closed && !conn.socket.destroyed) return conn;
    }
    return undefined;
  }

  private open(target: Target): UpstreamConnection {
    const conn = new UpstreamConnection(this, target);
    this.all.add(conn);
    return conn;
  }

  /** A connection finished an exchange cleanly: keep it for the next one, up to maxSockets per target. */
  release(conn: UpstreamConnection): void {
    let list = this.idle.get(conn.target);
    if (list === undefined) {
      list = [];
      this.idle.set(conn.target, list);
    }
    if (list.length >= this.maxSockets) {
      conn.destroy();
      return;
    }
    list.push(conn);
  }

  forget(conn: UpstreamConnection): void {
    this.all.delete(conn);
    const list = this.idle.get(conn.target);
    if (list === undefined) return;
    const i = list.indexOf(conn);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.idle.delete(conn.target);
  }

  close(): void {
    for (const conn of [...this.all]) conn.destroy();
    this.idle.clear();
  }
}

function ignoreError(): void {}

/** Bodies up to this size (with Content-Length) are buffered, so a reset on a stale pooled socket can replay them (as the node engine does). */
const REPLAYABLE_BODY_LIMIT = 64 * 1024;
/** Buffered request bodies, by exchange. */
const replayable = new WeakMap<Exchange, Buffer>();

/** Reads a small body completely, then starts the first attempt; a client that goes away meanwhile just ends it. */
function bufferBody(forwarder: RawForwarder, exchange: Exchange, length: number): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const req = exchange.req;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= length) chunks.push(chunk);
  });
  req.once('end', () => {
    if (exchange.done) return;
    replayable.set(exchange, Buffer.concat(chunks, Math.min(size, length)));
    forwarder.attempt(exchange);
  });
}

function onClientClose(this: ClientResponse): void {
  const exchange = this[kExchange];
  if (exchange === undefined) return;
  exchange.done = true;
  if (!this.writableFinished) exchange.upstream?.destroy();
  exchange.finish(this.writableFinished ? this.statusCode : 499);
}
