import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Target } from '../pool/target.js';
import { connectOrFail } from '../net/connect.js';
import type { Exchange } from './exchange.js';
import { trailerPairs } from './headers.js';
import type { Attempt, RawForwarder } from './raw-forwarder.js';

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

type ErrnoError = NodeJS.ErrnoException;

/** One kept-alive connection to one target with its own response parser. */
export class UpstreamConnection {
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
  /** How long this connection may idle in the pool: the pool's idle timeout, or less when the upstream's `Keep-Alive: timeout=` says so. */
  idleTimeout: number;
  /** The client response this connection stopped reading for (backpressure), if any. */
  pausedFor: Exchange['res'] | undefined = undefined;
  /** Header pairs flushed early by the parser (heads spanning several reads). */
  pendingHeaders: string[] | undefined = undefined;

  constructor(forwarder: RawForwarder, target: Target) {
    this.forwarder = forwarder;
    this.target = target;
    this.idleTimeout = forwarder.idleTimeout;
    const parser = new HTTPParser();
    parser.initialize(HTTPParser.RESPONSE, {}, forwarder.maxHeaderSize, 0);
    const self = this;
    parser[HTTPParser.kOnHeaders] = function onHeaders(headers: string[]): void {
      self.pendingHeaders = self.pendingHeaders === undefined ? headers : self.pendingHeaders.concat(headers);
    };
    parser[HTTPParser.kOnHeadersComplete] = function onHeadersComplete(
      _major: number,
      _minor: number,
      headers: string[] | undefined,
      _method: unknown,
      _url: unknown,
      status: number,
      message: string,
      upgrade: boolean,
      keepAlive: boolean,
    ): number {
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
    const socket = connectOrFail({ host: target.host, port: target.port });
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
      if (this.attempt?.exchange.responded && !this.attempt.complete) {
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
    if (keepAlive) this.idleTimeout = idleTimeoutFor(headers, this.forwarder.idleTimeout);
    return attempt.onHead(status, message, headers);
  }

  onBody(chunk: Buffer): void {
    const attempt = this.attempt;
    if (attempt === undefined || attempt.exchange.done) return;
    const res = attempt.exchange.res;
    if (!res.write(chunk) && this.pausedFor === undefined) {
      this.pausedFor = res;
      this.socket.pause();
      res.once('drain', this.onDrain);
    }
  }

  /** The client caught up: read from the upstream again. */
  private readonly onDrain = (): void => {
    this.pausedFor = undefined;
    this.socket.resume();
  };

  onComplete(): void {
    const attempt = this.attempt;
    if (attempt === undefined) return;
    if (attempt.informational) {
      attempt.informational = false;
      return;
    }
    attempt.complete = true;
    this.attempt = undefined;
    // Fields the parser flushed after the body are trailers: they belong to this response,
    // never to the next one on the connection.
    const trailers = this.pendingHeaders;
    this.pendingHeaders = undefined;
    if (this.pausedFor !== undefined) {
      // The whole response is handed over (the client response buffers the rest): the
      // connection must read again before it serves anyone else.
      this.pausedFor.off('drain', this.onDrain);
      this.pausedFor = undefined;
      this.socket.resume();
    }
    attempt.end();
    const res = attempt.exchange.res;
    if (!attempt.exchange.done) {
      if (trailers !== undefined) res.addTrailers(trailerPairs(trailers));
      res.end();
    }
    if (attempt.keepAlive && attempt.bodyDone && !this.closed && this.idleTimeout > 0) {
      this.reused = true;
      this.socket.setTimeout(this.idleTimeout);
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

/** Margin kept below an upstream's announced keep-alive timeout, so we never reuse a socket it is closing (as Node's agent does). */
const KEEP_ALIVE_HINT_MARGIN = 1000;
const KEEP_ALIVE_TIMEOUT = /(?:^|[\s,])timeout=(\d+)/i;

/** The pool idle time for a connection, shortened by a `Keep-Alive: timeout=N` response header. */
function idleTimeoutFor(headers: string[], poolTimeout: number): number {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name.length !== 10 || name.toLowerCase() !== 'keep-alive') continue;
    const hint = KEEP_ALIVE_TIMEOUT.exec(headers[i + 1] as string);
    if (hint !== null) return Math.min(poolTimeout, Number(hint[1]) * 1000 - KEEP_ALIVE_HINT_MARGIN);
  }
  return poolTimeout;
}
