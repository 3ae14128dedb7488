import type { FastifyInstance } from 'fastify';

/** One process serving clients, as `GET /v1/workers` and `switchyard status` show it. */
export interface WorkerView {
  /** Worker number, 1…N, kept by a respawned worker (0: the single process). */
  readonly id: number;
  readonly pid: number;
  /** `starting` until its listeners are bound, `ready` while serving, `stopping` while draining. */
  readonly state: 'starting' | 'ready' | 'stopping';
  /** Routing generation it has applied. */
  readonly generation: number;
  /** Responses it has sent (null when metrics are off). */
  readonly requests: number | null;
  readonly uptime_seconds: number;
  /** Times this worker number was respawned after its process died or was replaced. */
  readonly restarts: number;
}

/** The answer of `GET /v1/workers`. */
export interface WorkersView {
  /** `single`: one process does everything (`workers: 0`); `workers`: a primary and N worker processes. */
  readonly mode: 'single' | 'workers';
  /** How the primary hands out connections (`rr` round robin, `none` the kernel), in `workers` mode. */
  readonly scheduling?: 'rr' | 'none';
  readonly workers: readonly WorkerView[];
}

/** `GET /v1/workers`: the processes serving clients. */
export function registerWorkersRoute(app: FastifyInstance, workers: () => Promise<WorkersView>): void {
  app.get('/v1/workers', async () => workers());
}
