/**
 * Request-target forms (RFC 9112 §3.2) and Host syntax (RFC 9112 §3.2, RFC 3986 §3.2.2).
 * Node's parser accepts any target and any Host value; these checks decide what is
 * routed and forwarded.
 */

/** Bytes allowed in a reg-name (RFC 3986: unreserved / sub-delims; `%` checked apart). */
const REG_NAME = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=") REG_NAME[c.charCodeAt(0)] = 1;

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * True when `value` is `uri-host [":" port]`: a reg-name (letters, digits, `-._~`,
 * sub-delims, %XX) or a bracketed IP literal, then an optional port of at most 65535. An
 * empty value, a space, `/`, `@` or `\` make it invalid (RFC 9112 §3.2: answer 400).
 */
export function isValidHost(value: string): boolean {
  const length = value.length;
  if (length === 0) return false;
  let i = 0;
  if (value.charCodeAt(0) === 91 /* [ */) {
    const close = value.indexOf(']');
    if (close < 3) return false;
    for (i = 1; i < close; i++) {
      const c = value.charCodeAt(i);
      // IPv6address and IPvFuture: hex digits, ':', '.', and for IPvFuture unreserved / sub-delims.
      if (c !== 58 && (c >= 128 || REG_NAME[c] !== 1)) return false;
    }
    i = close + 1;
  } else {
    for (; i < length; i++) {
      const c = value.charCodeAt(i);
      if (c === 58 /* : */) break;
      if (c === 37 /* % */) {
        if (!isHex(value.charCodeAt(i + 1)) || !isHex(value.charCodeAt(i + 2))) return false;
        i += 2;
      } else if (c >= 128 || REG_NAME[c] !== 1) {
        return false;
      }
    }
    if (i === 0) return false;
  }
  if (i === length) return true;
  if (value.charCodeAt(i) !== 58) return false;
  // RFC 3986's port is any run of digits; a TCP port ends at 65535, so a larger one is
  // only a mistake or a probe, and is refused rather than forwarded.
  let port = 0;
  for (i++; i < length; i++) {
    const c = value.charCodeAt(i);
    if (!isDigit(c)) return false;
    port = port * 10 + (c - 48);
    if (port > 65535) return false;
  }
  return true;
}

/** A request target split for routing and forwarding. */
export interface RequestTarget {
  /** Origin-form path and query, what the upstream receives. */
  readonly path: string;
  /** The authority of an absolute-form target, which replaces Host (RFC 9112 §3.2.2); undefined for origin-form. */
  readonly authority: string | undefined;
}

/** The parsed target of `OPTIONS *` (asterisk-form, RFC 9112 §3.2.4). */
export const ASTERISK: RequestTarget = { path: '*', authority: undefined };

/**
 * Parses a request target: origin-form (`/path?q`) as is, absolute-form
 * (`http://host:port/path?q`) into its authority and origin-form path, `*` for OPTIONS.
 * Returns undefined for anything else (other schemes, userinfo, an invalid authority,
 * authority-form outside CONNECT): a 400.
 */
export function parseRequestTarget(url: string, method: string | undefined): RequestTarget | undefined {
  const first = url.charCodeAt(0);
  if (first === 47 /* / */) return { path: url, authority: undefined };
  if (url === '*') return method === 'OPTIONS' ? ASTERISK : undefined;
  const scheme = url.indexOf('://');
  if (scheme < 0) return undefined;
  const name = url.slice(0, scheme).toLowerCase();
  if (name !== 'http' && name !== 'https') return undefined;
  const start = scheme + 3;
  let end = start;
  while (end < url.length) {
    const c = url.charCodeAt(end);
    if (c === 47 /* / */ || c === 63 /* ? */) break;
    end++;
  }
  const authority = url.slice(start, end);
  // Userinfo is deprecated and treated as an error (RFC 9110 §4.2.4); isValidHost rejects '@'.
  if (!isValidHost(authority)) return undefined;
  const rest = url.slice(end);
  // An empty path is sent as "/" (RFC 9112 §3.2.1).
  return { path: rest.length === 0 || rest.charCodeAt(0) === 63 ? `/${rest}` : rest, authority };
}
