import { isIP } from 'node:net';
import { SwitchyardError } from '../errors.js';

/** Most names one ACME certificate may carry (Let's Encrypt's limit per order). */
export const MAX_ACME_HOSTS = 100;

const DNS_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;

/**
 * Why `host` cannot be on a certificate obtained with http-01, or undefined when it can.
 * Wildcards need dns-01 (RFC 8555 §8.3: http-01 cannot prove control of a whole zone) and
 * IP identifiers (RFC 8738) are not offered by every CA; both are refused here. A name must
 * have at least two labels: a CA never issues for a bare `localhost` or `intranet`.
 */
export function acmeHostProblem(host: string): string | undefined {
  if (host.startsWith('*.')) return `"${host}": wildcard names need the dns-01 challenge; switchyard answers http-01 only`;
  if (isIP(host)) return `"${host}": IP addresses are not requested over ACME; use a host name`;
  if (host.length > 253 || !DNS_NAME.test(host.toLowerCase())) return `"${host}" is not a fully qualified host name`;
  return undefined;
}

/** Lower-cases and de-duplicates ACME hosts; 400 INVALID_BODY naming the first bad one. */
export function normalizeAcmeHosts(hosts: readonly string[]): string[] {
  if (hosts.length === 0) throw new SwitchyardError('INVALID_BODY', 'at least one host is required');
  if (hosts.length > MAX_ACME_HOSTS) throw new SwitchyardError('INVALID_BODY', `at most ${MAX_ACME_HOSTS} hosts are allowed`);
  const out = new Set<string>();
  for (const raw of hosts) {
    const problem = acmeHostProblem(raw.trim());
    if (problem !== undefined) throw new SwitchyardError('INVALID_BODY', problem);
    out.add(raw.trim().toLowerCase());
  }
  return [...out];
}

/** True when two host lists name the same set of hosts (order and case aside). */
export function sameHosts(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a.map((h) => h.toLowerCase()));
  const right = new Set(b.map((h) => h.toLowerCase()));
  return left.size === right.size && [...left].every((h) => right.has(h));
}
