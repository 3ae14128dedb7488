/**
 * The WebSocket subprotocols of `/v1/events`. Browsers cannot set headers on a WebSocket,
 * so, as Kubernetes does (`base64url.bearer.authorization.k8s.io.<token>`), a client may
 * offer the token as a second subprotocol beside the real one:
 *
 *     Sec-WebSocket-Protocol: switchyard.v1, bearer.<base64url(token)>
 *
 * The token is base64url-encoded without padding (RFC 4648 §5) so any token fits the
 * subprotocol grammar (an RFC 7230 token, RFC 6455 §4.1). The server answers with
 * `switchyard.v1` only: the entry carrying the token is never echoed. Never a URL query,
 * which would end up in access logs and browser history.
 */

/** The one subprotocol the server selects. */
export const EVENTS_PROTOCOL = 'switchyard.v1';

/** Prefix of the subprotocol entry carrying the base64url-encoded bearer token. */
export const BEARER_PROTOCOL_PREFIX = 'bearer.';

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * An `Authorization` value (`Bearer <token>`) built from the bearer entry of a
 * `Sec-WebSocket-Protocol` header, or undefined when there is none. A malformed entry
 * gives a value no token matches, so it is refused like a wrong token.
 */
export function bearerFromProtocols(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  for (const entry of header.split(',')) {
    const protocol = entry.trim();
    if (!protocol.startsWith(BEARER_PROTOCOL_PREFIX)) continue;
    const encoded = protocol.slice(BEARER_PROTOCOL_PREFIX.length);
    // Node's base64url decoder skips characters outside the alphabet: check them first.
    return BASE64URL.test(encoded) ? `Bearer ${Buffer.from(encoded, 'base64url').toString('utf8')}` : 'Bearer ';
  }
  return undefined;
}

/** ws' `handleProtocols`: select `switchyard.v1` when offered, else none; never the token entry (ws' default would pick the first offered). */
export function chooseProtocol(offered: ReadonlySet<string>): string | false {
  return offered.has(EVENTS_PROTOCOL) ? EVENTS_PROTOCOL : false;
}
