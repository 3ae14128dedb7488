import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { hostPart, unbracket } from '../net/host-port.js';

/** True for names and addresses that can only mean this machine. */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  if (isIP(name) === 6) return name === '::1' || name.startsWith('::ffff:127.');
  return false;
}

/** The host name of a Host header value (port and brackets removed). */
export function hostOfHeader(value: string): string {
  return unbracket(hostPart(value));
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

/**
 * Compares a bearer token in constant time: both sides are hashed first so neither
 * the length nor a prefix leaks through timing.
 */
export function tokenMatches(authorization: string | undefined, token: string): boolean {
  const presented = authorization?.startsWith('Bearer ') ? authorization.slice(7) : '';
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b) && presented.length > 0;
}

/** Parses If-Match: `"7"`, `W/"7"`, `7`, or `*` (any). NaN when it names no generation. */
export function parseIfMatch(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '*') return undefined;
  const match = /^(?:W\/)?"?(\d+)"?$/.exec(trimmed);
  return match ? Number(match[1]) : Number.NaN;
}
