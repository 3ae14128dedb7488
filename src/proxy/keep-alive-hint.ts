/**
 * An upstream's `Keep-Alive: timeout=N` response header (RFC 2068 §19.7.1.1, still sent
 * by Node, Apache and others): the pool closes an idle connection before the upstream
 * would, so a request is never written to a socket the upstream is closing.
 */

/** Margin kept below an upstream's announced keep-alive timeout, so we never reuse a socket it is closing (as Node's agent does). */
const KEEP_ALIVE_HINT_MARGIN = 1000;
const KEEP_ALIVE_TIMEOUT = /(?:^|[\s,])timeout=(\d+)/i;

/** The pool idle time for a connection, shortened by a `Keep-Alive: timeout=N` response header. */
export function idleTimeoutFor(headers: string[], poolTimeout: number): number {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name.length !== 10 || name.toLowerCase() !== 'keep-alive') continue;
    const hint = KEEP_ALIVE_TIMEOUT.exec(headers[i + 1] as string);
    if (hint !== null) return Math.min(poolTimeout, Number(hint[1]) * 1000 - KEEP_ALIVE_HINT_MARGIN);
  }
  return poolTimeout;
}
