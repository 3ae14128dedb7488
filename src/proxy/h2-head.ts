/**
 * The head of an HTTP/2 request as an HTTP/1.1 upstream takes it (RFC 9113 §8.3.1):
 * pseudo-header fields dropped, `:authority` becomes Host, split Cookie fields joined
 * (§8.2.3), and a body without Content-Length framed chunked. Everything else (hop-by-hop
 * fields, X-Forwarded-*, field count, Host syntax) is readRequestHead's, as for HTTP/1.
 */

import { readRequestHead, type HeadRefusal, type ListenerFacts, type RequestHead } from './headers.js';

const NO_AUTHORITY: HeadRefusal = { code: 'BAD_REQUEST', message: 'the request has neither :authority nor Host' };
const DUPLICATE_HOST: HeadRefusal = { code: 'BAD_REQUEST', message: 'more than one Host field' };
const HOST_MISMATCH: HeadRefusal = { code: 'BAD_REQUEST', message: 'Host differs from :authority (RFC 9113 §8.3.1)' };

function refused(refusal: HeadRefusal): RequestHead {
  return { headers: [], host: undefined, refusal, hasBody: false, cookie: undefined };
}

/** `authority` after scheme-based normalization (RFC 3986 §6.2.3): host case folded, an empty or default port removed. */
export function normalizeAuthority(authority: string, scheme: string): string {
  const value = authority.toLowerCase();
  const colon = value.lastIndexOf(':');
  if (colon < 0 || colon < value.lastIndexOf(']')) return value;
  const port = value.slice(colon + 1);
  return port === '' || port === (scheme === 'http' ? '80' : '443') ? value.slice(0, colon) : value;
}

/**
 * One pass over an HTTP/2 request's `rawHeaders` (pseudo-headers first, names lower case:
 * nghttp2 refuses anything else, and the connection-specific fields). A request with both
 * `:authority` and a Host that names another origin is malformed (§8.3.1): 400, never
 * forwarded. `endAfterHeaders`: the HEADERS frame ended the stream, so there is no body.
 */
export function readH2RequestHead(
  raw: readonly string[],
  endAfterHeaders: boolean,
  clientAddress: string | undefined,
  listener: ListenerFacts,
  keepUnderscores: boolean,
): RequestHead {
  // Host goes first, as HTTP/1.1 clients send it; its value is filled in below.
  const fields: string[] = ['host', ''];
  let authority: string | undefined;
  let scheme = 'https';
  let host: string | undefined;
  let hosts = 0;
  let cookie: string | undefined;
  let contentLength = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ':authority') authority = value;
      else if (name === ':scheme') scheme = value;
      continue;
    }
    if (name === 'host') {
      hosts++;
      host = value;
    } else if (name === 'cookie') {
      cookie = cookie === undefined ? value : `${cookie}; ${value}`;
    } else {
      if (name === 'content-length') contentLength = true;
      fields.push(name, value);
    }
  }
  if (hosts > 1) return refused(DUPLICATE_HOST);
  if (authority === undefined) {
    if (host === undefined) return refused(NO_AUTHORITY);
    authority = host;
  } else if (host !== undefined && normalizeAuthority(host, scheme) !== normalizeAuthority(authority, scheme)) {
    return refused(HOST_MISMATCH);
  }
  fields[1] = authority;
  if (cookie !== undefined) fields.push('cookie', cookie);
  // HTTP/2 ends a body with the stream (END_STREAM), not a length: HTTP/1.1 needs one.
  if (!contentLength && !endAfterHeaders) fields.push('transfer-encoding', 'chunked');
  return readRequestHead(fields, clientAddress, listener, undefined, keepUnderscores);
}
