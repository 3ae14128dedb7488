import { normalizeHostName, wildcardBase } from '../net/host-name.js';

/** Something served for a set of lower-case host names (exact or `*.` wildcard). */
export interface HostClaim {
  readonly hosts: readonly string[];
}

function push<T>(map: Map<string, T[]>, key: string, item: T): void {
  const claims = map.get(key);
  if (claims) claims.push(item);
  else map.set(key, [item]);
}

function drop<T>(map: Map<string, T[]>, key: string, item: T): void {
  const claims = map.get(key);
  if (!claims) return;
  const at = claims.lastIndexOf(item);
  if (at >= 0) claims.splice(at, 1);
  if (claims.length === 0) map.delete(key);
}

/**
 * Host → item lookup for SNI: exact name first, then a leading wildcard covering exactly
 * one label (RFC 6125 §6.4.3: `*.example.com` matches `a.example.com`, not `example.com`
 * nor `a.b.example.com`; routing's wildcards cover any depth, see src/net/host-name.ts).
 * Two `Map` lookups whatever the number of items. When several items claim a host the
 * latest added wins, and an earlier one answers again once the latest is removed.
 */
export class SniIndex<T extends HostClaim> {
  private readonly exact = new Map<string, T[]>();
  /** Keyed by the part after `*.`. */
  private readonly wildcard = new Map<string, T[]>();

  /** Adds an item as the newest claimant of each of its hosts. */
  add(item: T): void {
    for (const host of item.hosts) {
      const base = wildcardBase(host);
      if (base === undefined) push(this.exact, host, item);
      else push(this.wildcard, base, item);
    }
  }

  /** Removes an item from every host it claims. */
  remove(item: T): void {
    for (const host of item.hosts) {
      const base = wildcardBase(host);
      if (base === undefined) drop(this.exact, host, item);
      else drop(this.wildcard, base, item);
    }
  }

  /** The newest item for a servername: exact match, else wildcard match, else undefined. */
  lookup(servername: string): T | undefined {
    const name = normalizeHostName(servername);
    const exact = this.exact.get(name);
    if (exact) return exact[exact.length - 1];
    const dot = name.indexOf('.');
    if (dot <= 0) return undefined;
    const wild = this.wildcard.get(name.slice(dot + 1));
    return wild?.[wild.length - 1];
  }
}
