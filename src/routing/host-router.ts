import { normalizeHostName, wildcardBase } from '../net/host-name.js';
import { hostPart } from '../net/host-port.js';

/** Path prefixes of one host, longest first. */
class PathTable<T> {
  private prefixes: string[] = [];
  private values: T[] = [];

  add(prefix: string, value: T): void {
    let i = 0;
    while (i < this.prefixes.length && (this.prefixes[i] ?? '').length >= prefix.length) i++;
    this.prefixes.splice(i, 0, prefix);
    this.values.splice(i, 0, value);
  }

  match(url: string): T | undefined {
    const prefixes = this.prefixes;
    for (let i = 0; i < prefixes.length; i++) {
      if (url.startsWith(prefixes[i] as string)) return this.values[i];
    }
    return undefined;
  }
}

/**
 * Host then path routing: exact host, then the longest leading wildcard, then the
 * default (host-less) entries; within a host the longest path prefix wins. A wildcard
 * covers any depth below its base, as nginx's `server_name` (TLS certificates cover one
 * label: see src/net/host-name.ts). Lookups are Map gets per host label, never a scan
 * over all services.
 */
export class HostRouter<T> {
  private readonly exact = new Map<string, PathTable<T>>();
  private readonly wildcard = new Map<string, PathTable<T>>();
  private readonly fallback = new PathTable<T>();
  private hasFallback = false;

  /** Adds a route; `host` is lower case, `*.example.com`, or undefined for the default. */
  add(host: string | undefined, prefix: string, value: T): void {
    if (host === undefined) {
      this.fallback.add(prefix, value);
      this.hasFallback = true;
      return;
    }
    const base = wildcardBase(host);
    const map = base === undefined ? this.exact : this.wildcard;
    const key = base ?? host;
    let table = map.get(key);
    if (table === undefined) {
      table = new PathTable<T>();
      map.set(key, table);
    }
    table.add(prefix, value);
  }

  /** The route for a raw Host header value and request target, or undefined. */
  match(hostHeader: string | undefined, url: string): T | undefined {
    if (hostHeader !== undefined && hostHeader.length > 0) {
      const host = normalizeHost(hostHeader);
      const found = this.exact.get(host)?.match(url);
      if (found !== undefined) return found;
      if (this.wildcard.size > 0) {
        // `*.example.com` matches any name below example.com; the longest suffix wins.
        for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.', dot + 1)) {
          const hit = this.wildcard.get(host.slice(dot + 1))?.match(url);
          if (hit !== undefined) return hit;
        }
      }
    }
    return this.hasFallback ? this.fallback.match(url) : undefined;
  }
}

/** Lower-cases a Host header and drops its port and trailing dot (IPv6 literals keep their brackets). */
export function normalizeHost(hostHeader: string): string {
  return normalizeHostName(hostPart(hostHeader));
}
