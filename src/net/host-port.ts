/**
 * `host:port` and Host-header parsing, written once. A host is a name, an IPv4 address or
 * an IPv6 address in brackets (RFC 3986 §3.2.2); the port follows the last colon that is
 * not inside the brackets.
 */

/** Index of the colon that starts the port of `host[:port]` or `[v6][:port]`, or -1 when there is no port. */
export function portColon(value: string): number {
  const colon = value.lastIndexOf(':');
  // A colon before a `]` belongs to an IPv6 address: `[::1]` has no port.
  return colon !== -1 && value.indexOf(']', colon) === -1 ? colon : -1;
}

/** The host of `host[:port]` as written, IPv6 brackets kept (what a Host header names). */
export function hostPart(value: string): string {
  const colon = portColon(value);
  return colon === -1 ? value : value.slice(0, colon);
}

/** `[::1]` → `::1`; any other host unchanged. */
export function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** A configured `host:port` (admin.listen, a target): the host without IPv6 brackets, and the port (NaN when there is none). */
export function splitHostPort(value: string): { host: string; port: number } {
  const colon = portColon(value);
  if (colon === -1) return { host: unbracket(value), port: Number.NaN };
  return { host: unbracket(value.slice(0, colon)), port: Number(value.slice(colon + 1)) };
}
