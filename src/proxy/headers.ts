/**
 * Header rewriting for both directions, over Node's flat `rawHeaders` arrays so the
 * client's header case and order survive and no header object is built.
 * Hop-by-hop headers: RFC 9110 §7.6.1.
 */

import type { ErrorCode } from '../errors.js';
import { isValidHost } from './request-target.js';

/** Why a request head is refused before routing: a catalogue code and the message for the client. */
export interface HeadRefusal {
  readonly code: ErrorCode;
  readonly message: string;
}

/**
 * Most header fields a request may carry (431 beyond). Node would silently drop the
 * fields past its own limit (1,000), Content-Length included; Apache's
 * LimitRequestFields (100) and HAProxy's tune.http.maxhdr (101) bound real traffic well.
 */
export const MAX_HEADER_FIELDS = 100;

const DUPLICATE_HOST: HeadRefusal = { code: 'BAD_REQUEST', message: 'more than one Host header' };
const INVALID_HOST: HeadRefusal = { code: 'BAD_REQUEST', message: 'the Host header is not a valid host[:port]' };
const TOO_MANY_FIELDS: HeadRefusal = { code: 'HEADERS_TOO_LARGE', message: `more than ${MAX_HEADER_FIELDS} header fields` };
const CHUNKED_TWICE: HeadRefusal = { code: 'BAD_REQUEST', message: 'chunked is applied more than once' };
const NOT_CHUNKED: HeadRefusal = { code: 'BAD_REQUEST', message: 'the final transfer coding is not chunked' };
const UNKNOWN_CODING: HeadRefusal = { code: 'NOT_IMPLEMENTED', message: 'only the chunked transfer coding is implemented' };

/** What the request path learns from one pass over the request head. */
export interface RequestHead {
  /** Headers for the upstream request, flat [name, value, …]. */
  headers: string[];
  /** The host to route by: the absolute-form authority, else the Host header. */
  host: string | undefined;
  /** Set when the head must be refused (duplicate or invalid Host, too many fields, a transfer coding other than chunked). */
  refusal: HeadRefusal | undefined;
  /** The request has a body (Content-Length > 0 or Transfer-Encoding). */
  hasBody: boolean;
  cookie: string | undefined;
}

/** Where the client reached switchyard, for X-Forwarded-Proto/-Port. */
export interface ListenerFacts {
  readonly proto: 'http' | 'https';
  readonly port: string;
}

function lower(name: string): string {
  // Most clients send canonical case; only pay for toLowerCase when a letter is upper case.
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) return name.toLowerCase();
  }
  return name;
}

/** Request headers never forwarded: hop-by-hop, ours to set, or answered by switchyard itself. */
function dropRequestHeader(name: string): boolean {
  switch (name.length) {
    case 2:
      return name === 'te';
    case 6:
      return name === 'expect'; // switchyard answers 100-continue itself
    case 7:
      return name === 'upgrade' || name === 'trailer';
    case 10:
      return name === 'connection' || name === 'keep-alive';
    case 15:
      return name === 'x-forwarded-for';
    case 16:
      return name === 'proxy-connection' || name === 'x-forwarded-host' || name === 'x-forwarded-port';
    case 17:
      return name === 'x-forwarded-proto';
    case 19:
      return name === 'proxy-authorization';
    default:
      return false;
  }
}

/** Response headers never passed back to the client. */
function dropResponseHeader(name: string): boolean {
  switch (name.length) {
    case 7:
      return name === 'upgrade' || name === 'trailer';
    case 10:
      return name === 'connection' || name === 'keep-alive';
    case 16:
      return name === 'proxy-connection';
    case 17:
      return name === 'transfer-encoding'; // Node frames the client response itself
    case 18:
      return name === 'proxy-authenticate';
    default:
      return false;
  }
}

/** Header names listed in a Connection header, which are hop-by-hop too (RFC 9110 §7.6.1). */
function connectionTokens(value: string): string[] {
  const out: string[] = [];
  for (const token of value.split(',')) {
    const name = token.trim().toLowerCase();
    if (name && name !== 'close' && name !== 'keep-alive') out.push(name);
  }
  return out;
}

function isChunked(coding: string): boolean {
  return coding.length === 7 && coding.toLowerCase() === 'chunked';
}

/**
 * The refusal for the Transfer-Encoding field (all lines joined), or undefined when it is
 * chunked alone (case-insensitive, RFC 9112 §7). Node accepts any list ending in chunked,
 * which the engines forward as plain chunked, dropping the other codings. 400 when the
 * final coding is not chunked (the body length is unknown, RFC 9112 §6.3) or chunked comes
 * twice (§7); 501 for any other coding before it (§6.1; nginx answers 501 too).
 */
export function transferCodingRefusal(value: string): HeadRefusal | undefined {
  if (isChunked(value)) return undefined;
  const codings = value.split(',').map((coding) => coding.trim());
  if (!isChunked(codings.pop() ?? '')) return NOT_CHUNKED;
  return codings.some(isChunked) ? CHUNKED_TWICE : UNKNOWN_CODING;
}

/**
 * One pass over the client's request head: upstream headers (hop-by-hop stripped,
 * names with `_` dropped unless `keepUnderscores`, X-Forwarded-For appended,
 * -Proto/-Host/-Port set, Host kept or replaced by `authority`, the authority of an
 * absolute-form target, RFC 9112 §3.2.2), routing facts, and whether to refuse the head.
 */
export function readRequestHead(
  raw: readonly string[],
  clientAddress: string | undefined,
  listener: ListenerFacts,
  authority?: string,
  keepUnderscores = false,
): RequestHead {
  const headers: string[] = [];
  let host: string | undefined;
  let refusal: HeadRefusal | undefined = raw.length > 2 * MAX_HEADER_FIELDS ? TOO_MANY_FIELDS : undefined;
  let hasBody = false;
  let codings: string | undefined;
  let cookie: string | undefined;
  let forwardedFor: string | undefined;
  let extraHop: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    let value = raw[i + 1] as string;
    const key = lower(name);
    if (key === 'host') {
      if (host !== undefined) refusal ??= DUPLICATE_HOST;
      else if (!isValidHost(value)) refusal ??= INVALID_HOST;
      host = value;
      if (authority !== undefined) value = authority;
    } else if (key === 'content-length') {
      if (value !== '0') hasBody = true;
    } else if (key === 'transfer-encoding') {
      codings = codings === undefined ? value : `${codings}, ${value}`;
      hasBody = true;
    } else if (key === 'cookie') {
      cookie = cookie === undefined ? value : `${cookie}; ${value}`;
    } else if (dropRequestHeader(key)) {
      if (key === 'x-forwarded-for') forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
      else if (key === 'connection') extraHop = connectionTokens(value);
      continue;
    } else if (!keepUnderscores && key.includes('_')) {
      // CGI/WSGI upstreams map `X_Forwarded_For` and `X-Forwarded-For` to the same variable; nginx drops these by default.
      continue;
    }
    headers.push(name, value);
  }
  if (codings !== undefined) refusal ??= transferCodingRefusal(codings);
  if (extraHop !== undefined && extraHop.length > 0) stripNamed(headers, extraHop);
  const client = clientAddress ?? '';
  const routeHost = authority ?? host;
  headers.push(
    'X-Forwarded-For',
    forwardedFor === undefined ? client : `${forwardedFor}, ${client}`,
    'X-Forwarded-Proto',
    listener.proto,
    'X-Forwarded-Host',
    routeHost ?? '',
    'X-Forwarded-Port',
    listener.port,
  );
  return { headers, host: routeHost, refusal, hasBody, cookie };
}

function stripNamed(headers: string[], names: readonly string[]): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    const key = lower(headers[i] as string);
    if (key !== 'host' && names.includes(key)) headers.splice(i, 2);
  }
}

/** The upstream's response headers for the client, hop-by-hop stripped; `extra` appended. */
export function responseHeaders(raw: readonly string[], extra: readonly string[] | undefined): string[] {
  const out: string[] = [];
  let extraHop: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const key = lower(name);
    if (dropResponseHeader(key)) {
      if (key === 'connection') extraHop = connectionTokens(raw[i + 1] as string);
      continue;
    }
    out.push(name, raw[i + 1] as string);
  }
  if (extraHop !== undefined && extraHop.length > 0) stripNamed(out, extraHop);
  if (extra !== undefined) for (const item of extra) out.push(item);
  return out;
}

/** Trailer fields to pass on (hop-by-hop ones dropped as for headers), as pairs for `res.addTrailers`. */
export function trailerPairs(raw: readonly string[]): [string, string][] {
  const flat = responseHeaders(raw, undefined);
  const pairs: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i] as string, flat[i + 1] as string]);
  return pairs;
}
