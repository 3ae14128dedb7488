import { constants, Http2ServerResponse, type Http2ServerRequest, type ServerHttp2Stream } from 'node:http2';
import type { OutgoingHttpHeaders } from 'node:http';

/**
 * Fields HTTP/2 forbids (RFC 9113 §8.2.2): connection-specific ones, which Node refuses
 * with ERR_HTTP2_INVALID_CONNECTION_HEADERS. `te` is only ever `trailers` in a request.
 */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'te']);

/**
 * Fields Node's HTTP/2 layer takes once only (its kSingleValueHeaders, less the
 * pseudo-headers): a second value makes it throw ERR_HTTP2_HEADER_SINGLE_VALUE. An
 * upstream repeating one keeps its first value, as Node's HTTP/1 `headers` object does.
 */
const SINGLE_VALUE = new Set([
  'access-control-allow-credentials',
  'access-control-max-age',
  'access-control-request-method',
  'age',
  'authorization',
  'content-encoding',
  'content-language',
  'content-length',
  'content-location',
  'content-md5',
  'content-range',
  'content-type',
  'date',
  'dnt',
  'etag',
  'expires',
  'from',
  'host',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'range',
  'referer',
  'retry-after',
  'tk',
  'upgrade-insecure-requests',
  'user-agent',
  'x-content-type-options',
]);

type H2Headers = Record<string, string | string[]>;

function add(out: H2Headers, name: string, value: string): void {
  const key = name.toLowerCase();
  if (CONNECTION_SPECIFIC.has(key)) return;
  const previous = out[key];
  if (previous === undefined) out[key] = value;
  else if (SINGLE_VALUE.has(key)) return;
  else if (typeof previous === 'string') out[key] = [previous, value];
  else previous.push(value);
}

/**
 * Response fields as HTTP/2 takes them: from a flat `[name, value, …]` list (the engine's
 * form), `[name, value]` pairs (trailers) or an object, lower-cased, connection-specific
 * fields dropped, single-value fields once.
 */
export function h2Fields(fields: OutgoingHttpHeaders | readonly string[] | readonly (readonly [string, string])[] | undefined): H2Headers {
  const out: H2Headers = {};
  if (fields === undefined) return out;
  if (Array.isArray(fields)) {
    if (fields.length > 0 && Array.isArray(fields[0])) {
      for (const [name, value] of fields as readonly (readonly [string, string])[]) add(out, name, value);
    } else {
      const flat = fields as readonly string[];
      for (let i = 0; i < flat.length; i += 2) add(out, flat[i] as string, flat[i + 1] as string);
    }
    return out;
  }
  for (const [name, value] of Object.entries(fields as OutgoingHttpHeaders)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) add(out, name, item);
    else add(out, name, String(value));
  }
  return out;
}

const kServerReset = Symbol('switchyard.serverReset');
type MarkedStream = ServerHttp2Stream & { [kServerReset]?: true };

/** True when switchyard itself reset `stream` (a failed upstream, a send timeout), not the client. */
export function resetByServer(stream: ServerHttp2Stream): boolean {
  return (stream as MarkedStream)[kServerReset] === true;
}

/** A client that took no response bytes for `send_timeout`: its stream alone is reset (HTTP/1 closes the connection). */
function onSendTimeout(this: Http2ServerResponse): void {
  this.destroy();
}

/**
 * The response of one HTTP/2 stream, shaped like the HTTP/1 `ServerResponse` the request
 * path and the forwarding engine write to: `writeHead(status, message, flatHeaders)` drops
 * the status message (HTTP/2 has none, RFC 9113 §8.3.2) and the connection-specific fields;
 * `addTrailers` takes pairs; `setTimeout` without a callback resets the stream when it
 * fires, as an HTTP/1 socket is destroyed. Node builds it for every stream
 * (`Http2ServerResponse` option of `http2.createSecureServer`).
 */
export class ProxyH2Response<Request extends Http2ServerRequest = Http2ServerRequest> extends Http2ServerResponse<Request> {
  /** The send-timeout handler is on (added at the first `setTimeout`, which only a slow reader sees). */
  private timeoutHandled = false;

  override setTimeout(msecs: number, callback?: () => void): void {
    if (callback === undefined && !this.timeoutHandled) {
      this.timeoutHandled = true;
      this.on('timeout', onSendTimeout);
    }
    super.setTimeout(msecs, callback);
  }

  override writeHead(
    statusCode: number,
    messageOrFields?: string | OutgoingHttpHeaders | readonly string[],
    fields?: OutgoingHttpHeaders | readonly string[],
  ): this {
    const given = typeof messageOrFields === 'string' ? fields : messageOrFields;
    try {
      super.writeHead(statusCode, h2Fields(given));
    } catch (err) {
      // A field value Node will not encode: this stream cannot carry the response.
      this.destroy(err as Error);
    }
    return this;
  }

  override addTrailers(trailers: OutgoingHttpHeaders | readonly (readonly [string, string])[]): void {
    super.addTrailers(h2Fields(trailers));
  }

  /** Cuts the stream short with RST_STREAM(INTERNAL_ERROR) (Node would send NO_ERROR, which reads like a clean end). */
  override destroy(err?: Error): this {
    const stream = this.stream as MarkedStream;
    stream[kServerReset] = true;
    if (!stream.closed && !stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    super.destroy(err);
    return this;
  }
}

// True once the whole response was handed to the stream. Node's own getter reads the
// stream's writable side, which Node also ends when the client resets the stream: a
// response cut short would look complete (the request path counts it 499 and stops the
// upstream side only when it is not). A property in the typings, so not a class accessor.
Object.defineProperty(ProxyH2Response.prototype, 'writableFinished', {
  get(this: ProxyH2Response): boolean {
    return this.writableEnded && this.stream.writableFinished;
  },
});
