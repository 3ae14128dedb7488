/**
 * The `limits` and `upstream` sections: the bounds a listener puts on clients and the
 * engine on upstreams. Apart from schema.ts because each key carries a long doc comment
 * for the operator (meaning, default, unit, nginx's name for it) and its reload mark.
 */
import { z } from 'zod';
import { durationSchema as duration } from './duration.js';
import { positiveInt } from './primitives.js';
import { RELOADS, RESTART_ONLY } from './reload-marks.js';

/** Client-side limits of every listener: sizes, timeouts, buffers, HTTP/2 stream bounds. */
export const limitsSchema = z
  .object({
    /**
     * Largest request head in bytes (431 beyond it). On HTTP/2 it is the header list
     * size (SETTINGS_MAX_HEADER_LIST_SIZE: names + values + 32 octets per field, RFC 9113
     * §6.5.2); a stream past it is reset (ENHANCE_YOUR_CALM). Node fixes it when a
     * listener's server is created.
     */
    max_header_size: positiveInt.default(16_384).meta(RESTART_ONLY),
    /** Time a client has to send the request head (slowloris guard). */
    header_timeout: duration.default(10_000).meta(RELOADS),
    /** Time a client has to send a whole request. */
    request_timeout: duration.default(60_000).meta(RELOADS),
    /** Idle time of a client keep-alive connection. */
    keepalive_timeout: duration.default(5_000).meta(RELOADS),
    /** Most concurrent client connections per listener. */
    max_connections: positiveInt.default(10_000).meta(RELOADS),
    /** Largest WebSocket message a client may send through the proxy, in bytes (closed with 1009 beyond it; ws's default maxPayload). */
    websocket_max_message: positiveInt.default(100 * 1024 * 1024).meta(RELOADS),
    /** A proxied WebSocket silent both ways for this long is closed with 1001 (HAProxy's `timeout tunnel`). */
    websocket_idle_timeout: duration.default(3_600_000).meta(RELOADS),
    /** Forward request header fields whose name contains `_` (default false: dropped, as nginx's `underscores_in_headers off`; CGI/WSGI upstreams cannot tell `X_Real_IP` from `X-Real-IP`). */
    underscores_in_headers: z.boolean().default(false).meta(RELOADS),
    /**
     * A client that takes no response bytes for this long has its connection closed
     * (nginx's `send_timeout`). While a client is not reading, the upstream's
     * response_timeout is paused: a slow reader is never counted against the upstream.
     * The engine takes it at start.
     */
    send_timeout: duration.default(60_000).meta(RESTART_ONLY),
    /**
     * Request bodies are read up to this many bytes before an upstream connection is
     * taken, so a client trickling its body holds none (it is cut by request_timeout).
     * A body within it is forwarded whole (with Content-Length) and can be retried; a
     * longer one is sent from the buffer and then streams. Bytes; the engine takes it at start.
     */
    request_buffer: positiveInt.default(1_048_576).meta(RESTART_ONLY),
    /**
     * Bytes all read-ahead request buffers of one process may hold together; past it,
     * bodies stop buffering and stream as they arrive (as before read-ahead existed).
     * The engine takes it at start.
     */
    request_buffer_total: positiveInt.default(268_435_456).meta(RESTART_ONLY),
    /**
     * Bytes of one response kept for a client that reads slower than its upstream
     * answers (nginx's proxy buffering, `proxy_max_temp_file_size`): the first 64 KiB in
     * memory, the rest in an unlinked temp file under the OS temp directory. The
     * upstream connection goes back to the pool as soon as the response is complete,
     * so slow readers hold none. Past this many bytes the upstream is paused until the
     * client catches up; 0 turns spooling off (always pause). Default 1 GiB. The engine
     * takes it at start.
     */
    response_spool: z.number().int().min(0).default(1_073_741_824).meta(RESTART_ONLY),
    /**
     * Bytes the response spools of one process may hold on disk together; past it a
     * spool that needs more pauses its upstream until its client catches up (as past
     * response_spool). Default 4 GiB. The engine takes it at start.
     */
    response_spool_total: positiveInt.default(4_294_967_296).meta(RESTART_ONLY),
    /** Streams one HTTP/2 client connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS); more are refused (REFUSED_STREAM). Default 100, as nginx. Set when a listener's server is created. */
    h2_max_concurrent_streams: positiveInt.max(2_147_483_647).default(100).meta(RESTART_ONLY),
    /**
     * Streams one HTTP/2 connection may reset (RST_STREAM from the client) before their
     * response is complete, within any 10 s; one more and the connection is sent GOAWAY
     * (ENHANCE_YOUR_CALM) and closed. Each such stream has cost a routed request and an
     * upstream attempt: this is the guard against "rapid reset" (CVE-2023-44487).
     * Default 200 (twice the default h2_max_concurrent_streams). Set when a listener's server is created.
     */
    h2_max_stream_resets: positiveInt.default(200).meta(RESTART_ONLY),
  })
  .strict()
  .prefault({});

/** Upstream connections: timeouts, pool size, passive ejection. */
export const upstreamSchema = z
  .object({
    /** Longest silence from an upstream, connecting included (504 beyond it). */
    response_timeout: duration.default(30_000).meta(RELOADS),
    /** Idle pooled connections are closed after this; keep it below the upstream's. The pool is built at start. */
    idle_timeout: duration.default(4_000).meta(RESTART_ONLY),
    /** Most sockets per target; requests beyond it wait for a free one. The pool is built at start. */
    max_sockets: positiveInt.default(256).meta(RESTART_ONLY),
    /** Passive ejection: consecutive failures (refused, reset, timed out, broken or 5xx responses) that take a target out between active checks (nginx's `max_fails`). */
    max_fails: positiveInt.default(3).meta(RELOADS),
    /** How long a passively ejected target sits out (nginx's `fail_timeout`). */
    fail_timeout: duration.default(10_000).meta(RELOADS),
    /** Deprecated and ignored: `fast` was the only engine left; the `node` engine was removed. Accepted so older configs still load. */
    engine: z.literal('fast', { error: 'the node engine was removed; only "fast" is accepted (or drop the key)' }).optional().meta(RELOADS),
  })
  .strict()
  .prefault({});
