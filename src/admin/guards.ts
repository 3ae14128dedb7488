import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/** True for names and addresses that can only mean this machine. */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  if (isIP(name) === 6) return name === '::1' || name.startsWith('::ffff:127.');
  return false;
}

const PORT = /^\d*$/;

/**
 * The host name of a Host header value (port and brackets removed). A value that is not
 * `name`, `name:port`, `[v6]` or `[v6]:port` comes back whole, so it names no loopback host.
 */
export function hostOfHeader(value: string): string {
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    const rest = close === -1 ? 'unclosed' : value.slice(close + 1);
    return rest === '' || (rest.startsWith(':') && PORT.test(rest.slice(1))) ? value.slice(1, close) : value;
  }
  const colon = value.lastIndexOf(':');
  return colon !== -1 && PORT.test(value.slice(colon + 1)) ? value.slice(0, colon) : value;
}

/**
 * DNS-rebinding / CSRF guard for a loopback admin: the Host and any Origin must name
 * a loopback host. Returns the reason for refusal, or undefined when allowed.
 */
export function foreignOrigin(host: string | undefined, origin: string | undefined): string | undefined {
  if (host === undefined || !isLoopbackHost(hostOfHeader(host))) return `Host "${host ?? ''}" is not a loopback name`;
  if (origin !== undefined && origin !== 'null') {
    let originHost: string;
    try {
      originHost = new URL(origin).hostname;
    } catch {
      return `Origin "${origin}" is not a URL`;
    }
    if (!isLoopbackHost(originHost)) return `Origin "${origin}" is not a loopback origin`;
  } else if (origin === 'null') {
    return 'Origin "null" is refused';
  }
  return undefined;
}

/** RFC 7235 §2.1: the scheme is case-insensitive; RFC 6750 §2.1: one or more spaces follow it. */
const BEARER = /^bearer +/i;

/**
 * Compares a bearer token in constant time: both sides are hashed first so neither
 * the length nor a prefix leaks through timing.
 */
export function tokenMatches(authorization: string | undefined, token: string): boolean {
  const scheme = authorization === undefined ? null : BEARER.exec(authorization);
  const presented = authorization !== undefined && scheme ? authorization.slice(scheme[0].length) : '';
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b) && presented.length > 0;
}

/** Parses If-Match: `"7"`, `W/"7"`, `7`, or `*` (any). NaN when it names no generation. */
export function parseIfMatch(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '*') return undefined;
  // Quotes come in pairs or not at all: `"7` is no entity tag.
  const match = /^(?:W\/)?(?:"(\d+)"|(\d+))$/.exec(trimmed);
  return match ? Number(match[1] ?? match[2]) : Number.NaN;
}
