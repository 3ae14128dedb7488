import type { FastifyInstance } from 'fastify';

/** What `/healthz` reports. */
export interface HealthRouteDeps {
  /** True once a graceful stop began. */
  readonly stopping: () => boolean;
  /** Generation of the live routing snapshot. */
  readonly generation: () => number;
}

/** `GET /healthz` (no token): 200 with the routing generation while serving, 503 once stopping, so a load balancer drains first. */
export function registerHealthRoute(app: FastifyInstance, deps: HealthRouteDeps): void {
  app.get('/healthz', async (_request, reply) => {
    if (deps.stopping()) return reply.code(503).send({ status: 'stopping' });
    return { status: 'ok', generation: deps.generation() };
  });
}
