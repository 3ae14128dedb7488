import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StackPool } from '../pool/stack-pool.js';
import type { Target } from '../pool/target.js';
import type { ServiceRoute } from '../routing/service-route.js';

/** One client request on its way through a forwarder; the forwarder's only per-request object. */
export class Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly route: ServiceRoute;
  readonly pool: StackPool;
  /** Target of the current attempt. */
  target: Target;
  /** Headers for the upstream request. */
  readonly headers: string[];
  readonly hasBody: boolean;
  /** Headers switchyard adds to the response (sticky cookie, HSTS), flat, or undefined. */
  readonly extraHeaders: readonly string[] | undefined;
  /** performance.now() at arrival. */
  readonly startedAt: number;
  retries = 0;
  /** The upstream's response head arrived. */
  responded = false;
  /** Request body bytes were handed to an upstream. */
  bodySent = false;
  /** The running upstream request, aborted when the client leaves. */
  upstream: { destroy(): unknown } | undefined = undefined;
  /** The response to the client is complete or the exchange was abandoned. */
  done = false;

  constructor(req: IncomingMessage, res: ServerResponse, route: ServiceRoute, pool: StackPool, target: Target, headers: string[], hasBody: boolean, extraHeaders: readonly string[] | undefined, startedAt: number) {
    this.req = req;
    this.res = res;
    this.route = route;
    this.pool = pool;
    this.target = target;
    this.headers = headers;
    this.hasBody = hasBody;
    this.extraHeaders = extraHeaders;
    this.startedAt = startedAt;
  }
}

/** Forwards exchanges to their target; the interface a faster engine can replace. */
export interface Forwarder {
  /** Sends the exchange upstream and streams the answer back (retries, timeouts, errors included). */
  forward(exchange: Exchange): void;
  /** Releases pooled upstream connections. */
  close(): void;
}
