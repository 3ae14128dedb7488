import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

/** What `/metrics` serves: a registry, and the step that brings its counters up to date first. */
export interface MetricsPage {
  readonly registry: Registry;
  /** In a primary: collects the workers' counts; a no-op in a single process. */
  refresh(): Promise<void>;
}

/** `GET /metrics` (no token): the registry in the Prometheus text format. */
export function registerMetricsRoute(app: FastifyInstance, page: MetricsPage): void {
  app.get('/metrics', async (_request, reply) => {
    await page.refresh();
    return reply.type(page.registry.contentType).send(await page.registry.metrics());
  });
}
