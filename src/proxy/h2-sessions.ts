import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants, type Http2ServerRequest, type SecureServerOptions, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { ProxyH2Response, resetByServer } from './h2-response.js';

/** The HTTP/2 limits of one listener. */
export interface H2Limits {
  /** SETTINGS_MAX_CONCURRENT_STREAMS (`limits.h2_max_concurrent_streams`). */
  readonly maxConcurrentStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE in octets (`limits.max_header_size`). */
  readonly maxHeaderListSize: number;
  /** Client resets of unanswered streams allowed per connection per RESET_WINDOW (`limits.h2_max_stream_resets`). */
  readonly maxStreamResets: number;
  /** A connection with no open stream and no frame for this long is closed with GOAWAY (`limits.keepalive_timeout`, ms). */
  readonly idleTimeout: number;
}

/** The window `maxStreamResets` counts over (ms). */
export const RESET_WINDOW = 10_000;

/** Largest value an HTTP/2 setting takes (RFC 9113 §6.5.2: 32 bits). */
const MAX_SETTING = 2 ** 32 - 1;

/**
 * Options of `http2.createSecureServer` for a TLS listener that offers h2 and http/1.1
 * (ALPN, RFC 7301): the settings from `limits`, responses shaped for the engine. Server
 * push is off. Node's own flood guards stay at their defaults (nghttp2 rate-limits
 * RST_STREAM, SETTINGS and PING floods; more than 100 refused streams or 1,000 invalid
 * frames end a session); `maxStreamResets` is the tighter one switchyard adds.
 */
export function h2ServerOptions(
  limits: H2Limits,
): SecureServerOptions<typeof IncomingMessage, typeof ServerResponse, typeof Http2ServerRequest, typeof ProxyH2Response> {
  return {
    allowHTTP1: true,
    Http2ServerResponse: ProxyH2Response,
    settings: {
      maxConcurrentStreams: limits.maxConcurrentStreams,
      maxHeaderListSize: Math.min(limits.maxHeaderListSize, MAX_SETTING),
      enablePush: false,
    },
  };
}

/** What the guard keeps per session. */
class SessionState {
  readonly owner: H2Sessions;
  readonly session: ServerHttp2Session;
  /** Streams open now (for the idle check). */
  open = 0;
  /** Client resets of unanswered streams in the current window. */
  resets = 0;
  windowStart = 0;

  constructor(owner: H2Sessions, session: ServerHttp2Session) {
    this.owner = owner;
    this.session = session;
  }
}

const kState = Symbol('switchyard.h2State');
type GuardedSession = ServerHttp2Session & { [kState]?: SessionState };
type GuardedStream = ServerHttp2Stream & { [kState]?: SessionState };

function onSessionStream(this: GuardedSession, stream: GuardedStream): void {
  const state = this[kState];
  if (state === undefined) return;
  state.open++;
  stream[kState] = state;
  stream.once('close', onStreamClose);
}

/**
 * A stream closed. One closed before its response was complete (`aborted`) by the client
 * counts: what a rapid-reset client does to every stream it opens, after each one has been
 * routed and sent upstream. Past the limit the session gets GOAWAY (ENHANCE_YOUR_CALM) and
 * is destroyed: its other streams end, other connections are not touched.
 */
function onStreamClose(this: GuardedStream): void {
  const state = this[kState];
  if (state === undefined) return;
  state.open--;
  if (!this.aborted) return;
  // The stream has left its session by now (`this.session` is unset).
  const session = state.session;
  if (session.closed || session.destroyed || resetByServer(this)) return;
  const now = performance.now();
  if (now - state.windowStart > RESET_WINDOW) {
    state.windowStart = now;
    state.resets = 0;
  }
  if (++state.resets <= state.owner.limits.maxStreamResets) return;
  state.owner.onFlood?.(session.socket?.remoteAddress, state.resets);
  session.destroy(new Error(`HTTP/2 client reset ${state.resets} streams within ${RESET_WINDOW} ms`), constants.NGHTTP2_ENHANCE_YOUR_CALM);
}

/** No frame for the idle timeout: a session without open streams is closed (GOAWAY); one waiting on its streams is left alone. */
function onSessionTimeout(this: GuardedSession): void {
  const state = this[kState];
  if (state !== undefined && state.open === 0) this.close();
}

function forget(this: GuardedSession): void {
  this[kState]?.owner.sessions.delete(this);
}

/**
 * The HTTP/2 sessions of one listener: the rapid-reset guard and the idle timeout of
 * each, and GOAWAY to all of them on a drain.
 */
export class H2Sessions {
  readonly limits: H2Limits;
  /** Open sessions. */
  readonly sessions = new Set<ServerHttp2Session>();
  /** Told when a session is cut for resetting too many streams (client address, resets counted). */
  onFlood: ((address: string | undefined, resets: number) => void) | undefined;
  private draining = false;

  constructor(limits: H2Limits) {
    this.limits = limits;
  }

  /** The server's `session` listener. */
  readonly add = (session: ServerHttp2Session): void => {
    const guarded = session as GuardedSession;
    guarded[kState] = new SessionState(this, session);
    this.sessions.add(session);
    session.once('close', forget);
    session.on('stream', onSessionStream);
    session.on('timeout', onSessionTimeout);
    session.setTimeout(this.limits.idleTimeout);
    // A handshake that completed after the drain began: no new streams either.
    if (this.draining) session.close();
  };

  /**
   * Starts a graceful shutdown of every session: GOAWAY (NO_ERROR, the last stream id
   * taken), open streams finish, then each connection closes (RFC 9113 §6.8).
   */
  closeAll(): void {
    this.draining = true;
    for (const session of this.sessions) session.close();
  }
}
