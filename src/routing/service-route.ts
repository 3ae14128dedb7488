import type { ServiceConfig } from '../config/schema.js';
import type { StackPool } from '../pool/stack-pool.js';
import type { ServiceState } from './service-state.js';

/** Everything the request path needs for one service, frozen in a snapshot. */
export interface ServiceRoute {
  readonly name: string;
  readonly config: ServiceConfig;
  /** Effective runtime state (weights, generation, history). */
  readonly state: ServiceState;
  /** Pools by stack name. */
  readonly stacks: ReadonlyMap<string, StackPool>;
  /** Pools in config order, with their weights and running totals for the draw. */
  readonly pools: readonly StackPool[];
  readonly weights: readonly number[];
  readonly cumulative: readonly number[];
  readonly totalWeight: number;
  /** The one pool with all the weight, when weights are not split (the common case). */
  readonly soloPool: StackPool | undefined;
  /** Stack with the most weight. */
  readonly active: StackPool;
  /** First stack that is not active (what `route_to: standby` listeners serve). */
  readonly standby: StackPool;
  /** Name of the sticky cookie, or undefined when `sticky: none`. */
  readonly stickyCookie: string | undefined;
  /** Upstream response timeout in ms. */
  readonly responseTimeout: number;
  /** Header/cookie overrides, checked before weights and sticky cookies; null when there are none. */
  readonly overrides: readonly RouteOverride[] | null;
  /** Where a share of idempotent requests is copied; null when the service mirrors nothing. */
  readonly mirror: RouteMirror | null;
}

/** One override, resolved to its pool when the snapshot was built. */
export interface RouteOverride {
  /** Lower-case header name to match, or undefined for a cookie override. */
  readonly header: string | undefined;
  /** Cookie name to match, or undefined for a header override. */
  readonly cookie: string | undefined;
  readonly value: string;
  readonly pool: StackPool;
}

/** The mirror of a service, resolved to its pool when the snapshot was built. */
export interface RouteMirror {
  readonly pool: StackPool;
  /** Share copied, 0–100. */
  readonly percent: number;
  /** Largest body copied, in bytes. */
  readonly maxBody: number;
  /** Most copies in flight for the service. */
  readonly maxConcurrent: number;
  /** A copy not answered within this (ms) is given up. */
  readonly timeout: number;
}

/** Weighted draw of a stack; with `sticky: cookie` a cookie naming a weighted stack wins. */
export function chooseStack(route: ServiceRoute, cookieHeader: string | undefined): StackPool {
  if (route.soloPool !== undefined) return route.soloPool;
  if (route.stickyCookie !== undefined && cookieHeader !== undefined) {
    const sticky = stickyStack(route, cookieHeader);
    if (sticky !== undefined) return sticky;
  }
  const draw = Math.random() * route.totalWeight;
  const cumulative = route.cumulative;
  for (let i = 0; i < cumulative.length; i++) {
    if (draw < (cumulative[i] as number)) return route.pools[i] as StackPool;
  }
  return route.active;
}

function stickyStack(route: ServiceRoute, cookieHeader: string): StackPool | undefined {
  const name = route.stickyCookie as string;
  const at = cookieHeader.indexOf(`${name}=`);
  if (at === -1 || (at > 0 && cookieHeader[at - 1] !== ' ' && cookieHeader[at - 1] !== ';')) return undefined;
  const start = at + name.length + 1;
  let end = cookieHeader.indexOf(';', start);
  if (end === -1) end = cookieHeader.length;
  const pool = route.stacks.get(cookieHeader.slice(start, end).trim());
  if (pool === undefined) return undefined;
  const index = route.pools.indexOf(pool);
  return (route.weights[index] ?? 0) > 0 ? pool : undefined;
}
