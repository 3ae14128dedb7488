import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { connectOrFail } from '../net/connect.js';
import type { UpstreamErrorKind } from '../pool/stack-meter.js';
import type { Target } from '../pool/target.js';
import { type LlhttpParser, parserClass, responseParser } from './llhttp-binding.js';
import type { ResponseSpool } from './response-spool.js';
import { classifyUpstreamError } from './upstream-errors.js';
import { idleTimeoutFor } from './keep-alive-hint.js';
import { clearSendTimeout } from './send-timeout.js';

type ErrnoError = NodeJS.ErrnoException;

/**
 * Response bytes a client may leave unread (in Node's buffers) before the rest of the
 * response is spooled or the upstream paused: responses up to about this size never wait
 * for their client, as nginx's proxy_buffers (8 × 8 KiB by default) keep them.
 */
const CLIENT_BUFFER = 64 * 1024;

/** What a connection reports to the request it carries (the forwarder's attempt). */
export interface ConnectionUser {
  /** Where body bytes go: the client's response, or undefined once that client is gone (the rest is read and dropped). */
  readonly client: ServerResponse | undefined;
  /** The spool holding what the client has not taken yet, while it is behind. */
  readonly spool: ResponseSpool | undefined;
  /** The client pushed back: start spooling the rest of the response, or undefined when spooling is off (the connection pauses instead). */
  startSpool(): ResponseSpool | undefined;
  /** The connection is established: a streamed request body may go out now. */
  onConnect(): void;
  /** A final response head arrived; returns 1 when the response has no body (HEAD), else 0. */
  onHead(status: number, message: string, headers: string[]): number;
  /** The response ended (with its trailer fields, if any); returns true when the request went out in full, so the connection may serve another. */
  onComplete(trailers: string[] | undefined): boolean;
  /** The request failed on this connection; `reusedSocket` when the connection had served one before. */
  onFail(kind: UpstreamErrorKind, err: ErrnoError, reusedSocket: boolean): void;
}

/** What a connection needs from the pool that owns it. */
export interface ConnectionPool {
  /** How long an idle connection stays pooled, in ms. */
  readonly idleTimeout: number;
  /** Largest upstream response head, in bytes. */
  readonly maxHeaderSize: number;
  /** How long a client may leave response bytes unread before its connection is closed (`limits.send_timeout`). */
  readonly sendTimeout: number;
  /** The connection finished a request cleanly and may serve another. */
  release(conn: UpstreamConnection): void;
  /** The connection closed: it leaves the pool. */
  forget(conn: UpstreamConnection): void;
}

/** One kept-alive connection to one target with its own response parser (Node's llhttp). */
export class UpstreamConnection {
  readonly socket: Socket;
  readonly target: Target;
  /** The request currently on this connection. */
  user: ConnectionUser | undefined = undefined;
  connected = false;
  /** Served at least one exchange (a failure before any response byte is the keep-alive race). */
  reused = false;
  closed = false;
  /** How long this connection may idle in the pool: the pool's idle timeout, or less when the upstream's `Keep-Alive: timeout=` says so. */
  idleTimeout: number;
  private readonly pool: ConnectionPool;
  private readonly parser: LlhttpParser;
  /** Longest upstream silence for the current request, ms. */
  private responseTimeout = 0;
  /** A final response head arrived and its message is not complete yet. */
  private responding = false;
  /** The response being parsed is informational (1xx): its completion is not the end. */
  private informational = false;
  /** The upstream allows reusing this connection after the current response. */
  private keepAlive = false;
  /** The client response this connection stopped reading for (backpressure), if any. */
  private pausedFor: ServerResponse | undefined = undefined;
  /** Reading stopped because the exchange's spool is full. */
  private pausedForSpool = false;
  /** A write of the current response pushed back (the client is behind, by CLIENT_BUFFER at most unless spooled or paused). */
  private clientBehind = false;
  /** Header pairs flushed early by the parser (heads spanning several reads, or trailers). */
  private pendingHeaders: string[] | undefined = undefined;

  constructor(pool: ConnectionPool, target: Target) {
    this.pool = pool;
    this.target = target;
    this.idleTimeout = pool.idleTimeout;
    this.parser = responseParser(parserClass(), pool.maxHeaderSize, {
      onHeaders: (headers) => {
        this.pendingHeaders = this.pendingHeaders === undefined ? headers : this.pendingHeaders.concat(headers);
      },
      onHead: (status, message, headers, upgrade, keepAlive) => {
        let all = headers ?? [];
        if (this.pendingHeaders !== undefined) {
          all = this.pendingHeaders.concat(all);
          this.pendingHeaders = undefined;
        }
        return this.onHead(status, message, all, upgrade, keepAlive);
      },
      onBody: (chunk) => this.onBody(chunk),
      onComplete: () => this.onComplete(),
    });
    const socket = connectOrFail({ host: target.host, port: target.port });
    socket.setNoDelay(true);
    this.socket = socket;
    socket.on('connect', () => {
      this.connected = true;
      this.user?.onConnect();
    });
    socket.on('data', (data: Buffer) => {
      const result = this.parser.execute(data);
      if (result instanceof Error) this.fail(result as ErrnoError);
    });
    socket.on('end', () => {
      // A response framed by the connection's end is complete now; any other is cut short.
      if (this.user !== undefined && this.responding) {
        const result = this.parser.finish();
        if (result instanceof Error) this.fail(result as ErrnoError);
      }
      socket.destroy();
    });
    socket.on('timeout', () => {
      if (this.user === undefined) {
        this.destroy(); // idle too long in the pool
        return;
      }
      this.fail(Object.assign(new Error('upstream timed out'), { code: 'ETIMEDOUT' }), this.connected ? 'timeout' : 'connect');
    });
    socket.on('error', (err: ErrnoError) => this.fail(err));
    socket.on('close', () => {
      this.closed = true;
      this.pool.forget(this);
      if (this.user !== undefined) this.fail(Object.assign(new Error('upstream closed the connection'), { code: 'ECONNRESET' }));
      this.parser.free();
    });
  }

  /** Starts carrying `user`'s request: the upstream may stay silent for `responseTimeout` ms at most. */
  begin(user: ConnectionUser, responseTimeout: number): void {
    this.user = user;
    this.responseTimeout = responseTimeout;
    this.responding = false;
    this.clientBehind = false;
    this.socket.setTimeout(responseTimeout);
  }

  /** Aborts the connection (client went away, broken framing): never pooled again. */
  destroy(): void {
    this.closed = true;
    this.pool.forget(this);
    if (this.pausedFor !== undefined) {
      this.pausedFor.off('drain', this.onDrain);
      this.pausedFor = undefined;
    }
    this.socket.destroy();
  }

  private onHead(status: number, message: string, headers: string[], upgrade: boolean, keepAlive: boolean): number {
    const user = this.user;
    if (user === undefined) return 0;
    if (status >= 100 && status < 200) {
      if (status === 101 || upgrade) {
        this.fail(Object.assign(new Error('unexpected upgrade from upstream'), { code: 'HPE_UNEXPECTED_UPGRADE' }));
        return 2;
      }
      this.informational = true;
      return 1;
    }
    this.informational = false;
    this.responding = true;
    this.keepAlive = keepAlive;
    if (keepAlive) this.idleTimeout = idleTimeoutFor(headers, this.pool.idleTimeout);
    return user.onHead(status, message, headers);
  }

  private onBody(chunk: Buffer): void {
    const user = this.user;
    if (user === undefined) return;
    const res = user.client;
    if (res === undefined) return;
    const spool = user.spool;
    if (spool !== undefined) {
      // The client is behind: bytes queue behind the ones it has not taken yet.
      if (!spool.push(chunk, this.onSpoolRoom) && !this.pausedForSpool) {
        this.pausedForSpool = true;
        this.socket.pause();
        this.socket.setTimeout(0);
      }
      return;
    }
    if (res.write(chunk) || this.pausedFor !== undefined) return;
    // A client a little behind is normal (a 16 KiB response fills a socket's high-water
    // mark): it may leave up to CLIENT_BUFFER unread; its send timeout starts when the
    // response is complete (onComplete).
    this.clientBehind = true;
    if (res.writableLength <= CLIENT_BUFFER) return;
    // Further behind: the rest of the response is spooled, so the upstream connection is
    // free as soon as the response is complete (nginx's proxy buffering).
    if (user.startSpool() === undefined) {
      // Reading now waits for the client. Upstream silence is no longer the upstream's
      // fault, so its response timeout stops; the client instead gets send_timeout to take
      // data (nginx's send_timeout), past which only its own connection is closed (Node
      // destroys a socket whose timeout no listener handles).
      this.pausedFor = res;
      this.socket.pause();
      this.socket.setTimeout(0);
      res.setTimeout(this.pool.sendTimeout);
      res.once('drain', this.onDrain);
    }
  }

  /** The spool has room again: read from the upstream again, under the response timeout. */
  private readonly onSpoolRoom = (): void => {
    if (!this.pausedForSpool) return;
    this.pausedForSpool = false;
    if (this.closed) return;
    this.socket.setTimeout(this.responseTimeout);
    this.socket.resume();
  };

  /** The client caught up: read from the upstream again, under the response timeout. */
  private readonly onDrain = (): void => {
    this.pausedFor?.setTimeout(0);
    this.pausedFor = undefined;
    this.socket.setTimeout(this.responseTimeout);
    this.socket.resume();
  };

  private onComplete(): void {
    const user = this.user;
    if (user === undefined) return;
    if (this.informational) {
      this.informational = false;
      return;
    }
    this.user = undefined;
    this.responding = false;
    // Fields the parser flushed after the body are trailers: they belong to this response,
    // never to the next one on the connection.
    const trailers = this.pendingHeaders;
    this.pendingHeaders = undefined;
    if (this.pausedFor !== undefined) {
      // The whole response is handed over (the client response buffers the rest): the
      // connection reads again before it serves anyone else, and the client keeps its
      // send timeout until it catches up.
      this.pausedFor.off('drain', this.onDrain);
      this.pausedFor.once('drain', clearSendTimeout);
      this.pausedFor = undefined;
      this.socket.resume();
    } else if (this.clientBehind && user.spool === undefined) {
      // Bytes the client has not taken yet are held for it: it gets send_timeout to take them.
      const client = user.client;
      if (client !== undefined && client.writableLength > 0) {
        client.setTimeout(this.pool.sendTimeout);
        client.once('drain', clearSendTimeout);
      }
    }
    if (this.pausedForSpool) {
      this.pausedForSpool = false;
      user.spool?.forgetResume();
      this.socket.resume();
    }
    const sentInFull = user.onComplete(trailers);
    if (this.keepAlive && sentInFull && !this.closed && this.idleTimeout > 0) {
      this.reused = true;
      this.socket.setTimeout(this.idleTimeout);
      this.pool.release(this);
    } else {
      this.destroy();
    }
  }

  /** The current request failed: the connection is closed and the user told, with `kind` when the cause is known here. */
  private fail(err: ErrnoError, kind?: UpstreamErrorKind): void {
    const user = this.user;
    this.user = undefined;
    this.destroy();
    if (user !== undefined) user.onFail(kind ?? classifyUpstreamError(err, this.connected), err, this.reused);
  }
}
