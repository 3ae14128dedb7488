import type { StackPool } from '../pool/stack-pool.js';
import type { RouteOverride } from '../routing/service-route.js';

/** The value of cookie `name` in a Cookie header (`a=1; b=2`), or undefined. */
export function cookieValue(cookieHeader: string, name: string): string | undefined {
  let from = 0;
  while (from < cookieHeader.length) {
    const at = cookieHeader.indexOf(name, from);
    if (at === -1) return undefined;
    const end = at + name.length;
    // A whole cookie name: at the start or after `;`/space, and followed by `=`.
    const before = at === 0 ? ';' : cookieHeader[at - 1];
    if ((before === ';' || before === ' ') && cookieHeader[end] === '=') {
      const stop = cookieHeader.indexOf(';', end);
      return cookieHeader.slice(end + 1, stop === -1 ? cookieHeader.length : stop).trim();
    }
    from = end;
  }
  return undefined;
}

/** True when a field `name` (lower case) of the flat raw headers has exactly `value` (surrounding spaces aside). */
function headerHas(rawHeaders: readonly string[], name: string, value: string): boolean {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const field = rawHeaders[i] as string;
    if (field.length === name.length && field.toLowerCase() === name && (rawHeaders[i + 1] as string).trim() === value) return true;
  }
  return false;
}

/**
 * The stack the first matching override sends a request to (SPEC §10: `x-canary: always`
 * → standby), or undefined when none matches and weights and sticky cookies decide. Called
 * only for services that have overrides, so others pay nothing.
 */
export function overrideStack(overrides: readonly RouteOverride[], rawHeaders: readonly string[], cookie: string | undefined): StackPool | undefined {
  for (const override of overrides) {
    if (override.header !== undefined) {
      if (headerHas(rawHeaders, override.header, override.value)) return override.pool;
    } else if (cookie !== undefined && override.cookie !== undefined && cookieValue(cookie, override.cookie) === override.value) {
      return override.pool;
    }
  }
  return undefined;
}
