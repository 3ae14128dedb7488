import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { MAX_OVERRIDES, overrideSchema } from '../../config/delivery-schema.js';
import { formatPath } from '../../config/load.js';
import { SwitchyardError } from '../../errors.js';
import type { ServiceRoute } from '../../routing/service-route.js';
import type { StateController } from '../../state/controller.js';
import { parseIfMatch } from '../guards.js';
import { presentService } from '../present.js';

/** What the overrides route calls. */
export interface OverrideRoutesDeps {
  readonly controller: StateController;
  /** Open WebSockets per service and stack, for the service JSON. */
  readonly websockets: (service: string, stack: string) => number;
}

interface ServiceParams {
  service: string;
}

// Each entry is checked by the config's override rule (INVALID_OVERRIDE naming it), so config and API agree.
const overridesBody = {
  type: 'object',
  required: ['overrides'],
  additionalProperties: false,
  properties: { overrides: { type: 'array', maxItems: 1000 } },
} as const;
const overridesList = z.array(overrideSchema).max(MAX_OVERRIDES);

/** Registers `PUT /v1/services/:service/overrides` (SPEC §10): replaces the overrides at run time, If-Match honoured. */
export function registerOverrideRoutes(app: FastifyInstance, deps: OverrideRoutesDeps): void {
  const send = (reply: FastifyReply, route: ServiceRoute) => {
    void reply.header('etag', `"${route.state.generation}"`);
    return presentService(route, deps.websockets);
  };
  app.put<{ Params: ServiceParams; Body: { overrides: unknown[] } }>(
    '/v1/services/:service/overrides',
    { schema: { body: overridesBody } },
    async (request, reply) => {
      const parsed = overridesList.safeParse(request.body.overrides);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new SwitchyardError('INVALID_OVERRIDE', `${formatPath(['overrides', ...(issue?.path ?? [])])}: ${issue?.message ?? 'invalid'}`);
      }
      const ifMatch = parseIfMatch(request.headers['if-match']);
      if (Number.isNaN(ifMatch)) throw new SwitchyardError('PRECONDITION_FAILED', 'If-Match names no generation');
      return send(reply, await deps.controller.setOverrides(request.params.service, parsed.data, { ifMatch, actor: 'admin-api' }));
    },
  );
}
