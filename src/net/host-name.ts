/**
 * Host names as routing and TLS compare them. Both keep exact names and leading
 * wildcards (`*.example.com`) apart and look exact names up first, but what a wildcard
 * covers differs on purpose, as in the servers operators know:
 * - routing (the Host header) follows nginx's `server_name *.example.com`: any depth
 *   below the base (`a.example.com`, `a.b.example.com`), never the base itself; the
 *   longest matching base wins (src/routing/host-router.ts);
 * - certificates follow RFC 6125 §6.4.3, as every TLS client checks them: exactly one
 *   label (`a.example.com`, not `a.b.example.com` nor `example.com`), so SNI never picks
 *   a certificate the client would then reject (src/tls/sni-index.ts).
 */

/** `Example.COM.` → `example.com`: names are case-insensitive (RFC 4343) and may carry the root's trailing dot. */
export function normalizeHostName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** The base of a leading-wildcard pattern (`*.example.com` → `example.com`), or undefined for an exact name. */
export function wildcardBase(pattern: string): string | undefined {
  return pattern.startsWith('*.') ? pattern.slice(2) : undefined;
}
