/**
 * Header rewriting for both directions, over Node's flat `rawHeaders` arrays so the
 * client's header case and order survive and no header object is built.
 * Hop-by-hop headers: RFC 9110 §7.6.1.
 */

/** What the request path learns from one pass over the request head. */
export interface RequestHead {
  /** Headers for the upstream request, flat [name, value, …]. */
  headers: string[];
  host: string | undefined;
  /** More than one Host line: ambiguous, answered 400 (RFC 9112 §3.2). */
  duplicateHost: boolean;
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

/**
 * One pass over the client's request head: upstream headers (hop-by-hop stripped,
 * X-Forwarded-For appended, -Proto/-Host/-Port set, Host kept) and routing facts.
 */
export function readRequestHead(raw: readonly string[], clientAddress: string | undefined, listener: ListenerFacts): RequestHead {
  const headers: string[] = [];
  let host: string | undefined;
  let duplicateHost = false;
  let hasBody = false;
  let cookie: string | undefined;
  let forwardedFor: string | undefined;
  let extraHop: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const key = lower(name);
    if (key === 'host') {
      if (host !== undefined) duplicateHost = true;
      host = value;
    } else if (key === 'content-length') {
      if (value !== '0') hasBody = true;
    } else if (key === 'transfer-encoding') {
      hasBody = true;
    } else if (key === 'cookie') {
      cookie = cookie === undefined ? value : `${cookie}; ${value}`;
    } else if (dropRequestHeader(key)) {
      if (key === 'x-forwarded-for') forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
      else if (key === 'connection') extraHop = connectionTokens(value);
      continue;
    }
    headers.push(name, value);
  }
  if (extraHop !== undefined && extraHop.length > 0) stripNamed(headers, extraHop);
  const client = clientAddress ?? '';
  headers.push(
    'X-Forwarded-For',
    forwardedFor === undefined ? client : `${forwardedFor}, ${client}`,
    'X-Forwarded-Proto',
    listener.proto,
    'X-Forwarded-Host',
    host ?? '',
    'X-Forwarded-Port',
    listener.port,
  );
  return { headers, host, duplicateHost, hasBody, cookie };
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
