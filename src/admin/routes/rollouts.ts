import type { FastifyInstance, FastifyReply } from 'fastify';
import type { RolloutRunner, RolloutView } from '../../rollout/runner.js';

/** What the rollout routes call. */
export interface RolloutRoutesDeps {
  readonly rollouts: RolloutRunner;
}

interface ServiceParams {
  service: string;
}

// Steps are checked one by one by the one step rule (INVALID_ROLLOUT naming the bad one), not here.
const startBody = {
  type: 'object',
  required: ['to'],
  additionalProperties: false,
  properties: { to: { type: 'string', minLength: 1, maxLength: 100 }, steps: { type: 'array', maxItems: 1000 } },
} as const;
const promoteBody = { type: ['object', 'null'], additionalProperties: false, properties: { full: { type: 'boolean' } } } as const;
const abortBody = { type: ['object', 'null'], additionalProperties: false, properties: { reason: { type: 'string', maxLength: 500 } } } as const;
const emptyBody = { type: ['object', 'null'], additionalProperties: false, properties: {} } as const;

/** Registers the rollout API of SPEC §10: start, read, promote, pause, resume, abort. */
export function registerRolloutRoutes(app: FastifyInstance, deps: RolloutRoutesDeps): void {
  const { rollouts } = deps;
  const send = (reply: FastifyReply, view: RolloutView) => {
    void reply.header('etag', `"${view.generation}"`);
    return view;
  };

  app.post<{ Params: ServiceParams; Body: { to: string; steps?: unknown[] } }>(
    '/v1/services/:service/rollouts',
    { schema: { body: startBody } },
    async (request, reply) => {
      const view = await rollouts.begin(request.params.service, { to: request.body.to, steps: request.body.steps });
      void reply.code(201);
      return send(reply, view);
    },
  );

  app.get<{ Params: ServiceParams }>('/v1/services/:service/rollout', async (request, reply) => send(reply, rollouts.get(request.params.service)));

  app.post<{ Params: ServiceParams; Body: { full?: boolean } | null }>(
    '/v1/services/:service/rollout/promote',
    { schema: { body: promoteBody } },
    async (request, reply) => send(reply, await rollouts.promote(request.params.service, request.body?.full === true)),
  );
  app.post<{ Params: ServiceParams }>('/v1/services/:service/rollout/pause', { schema: { body: emptyBody } }, async (request, reply) =>
    send(reply, await rollouts.pause(request.params.service)),
  );
  app.post<{ Params: ServiceParams }>('/v1/services/:service/rollout/resume', { schema: { body: emptyBody } }, async (request, reply) =>
    send(reply, await rollouts.resume(request.params.service)),
  );
  app.post<{ Params: ServiceParams; Body: { reason?: string } | null }>(
    '/v1/services/:service/rollout/abort',
    { schema: { body: abortBody } },
    async (request, reply) => send(reply, await rollouts.abort(request.params.service, request.body?.reason)),
  );
}
