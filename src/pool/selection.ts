import type { Target } from './target.js';

/** How a stack picks one of its targets. */
export type BalanceAlgorithm = 'round_robin' | 'least_conn' | 'random_two';

/**
 * Picks an available target, skipping `exclude` (a target that just failed), or
 * returns undefined when none is available. Pure with respect to the request; the
 * round-robin cursor lives in `cursor`.
 */
export type Selector = (targets: readonly Target[], now: number, cursor: { next: number }, exclude: Target | undefined) => Target | undefined;

function roundRobin(targets: readonly Target[], now: number, cursor: { next: number }, exclude: Target | undefined): Target | undefined {
  const n = targets.length;
  for (let i = 0; i < n; i++) {
    const index = cursor.next++ % n;
    if (cursor.next >= n) cursor.next = 0;
    const target = targets[index];
    if (target !== undefined && target !== exclude && target.isAvailable(now)) return target;
  }
  return undefined;
}

function leastConn(targets: readonly Target[], now: number, cursor: { next: number }, exclude: Target | undefined): Target | undefined {
  let best: Target | undefined;
  // Start at a rotating offset so ties spread instead of always hitting the first target.
  const n = targets.length;
  const start = cursor.next++ % n;
  if (cursor.next >= n) cursor.next = 0;
  for (let i = 0; i < n; i++) {
    const target = targets[(start + i) % n];
    if (target === undefined || target === exclude || !target.isAvailable(now)) continue;
    if (best === undefined || target.inFlight < best.inFlight) best = target;
  }
  return best;
}

function randomTwo(targets: readonly Target[], now: number, cursor: { next: number }, exclude: Target | undefined): Target | undefined {
  const n = targets.length;
  if (n <= 2) return leastConn(targets, now, cursor, exclude);
  const a = targets[(Math.random() * n) | 0];
  const b = targets[(Math.random() * n) | 0];
  const aOk = a !== undefined && a !== exclude && a.isAvailable(now);
  const bOk = b !== undefined && b !== exclude && b.isAvailable(now);
  if (aOk && bOk) return a.inFlight <= b.inFlight ? a : b;
  if (aOk) return a;
  if (bOk) return b;
  // Both draws were unusable: fall back to a full pass so a healthy target is never missed.
  return leastConn(targets, now, cursor, exclude);
}

/** The selector for a balance algorithm. */
export function selectorFor(algorithm: BalanceAlgorithm): Selector {
  switch (algorithm) {
    case 'round_robin':
      return roundRobin;
    case 'least_conn':
      return leastConn;
    case 'random_two':
      return randomTwo;
    default: {
      const never: never = algorithm;
      throw new Error(`unknown balance ${String(never)}`);
    }
  }
}
