import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { targetProblem } from '../../config/target-address.js';
import { SwitchyardError } from '../../errors.js';
import type { ServiceRoute } from '../../routing/service-route.js';
import type { MutationOptions, StateController } from '../../state/controller.js';
import { parseIfMatch } from '../guards.js';
import { presentService } from '../present.js';

/** What the service routes read and call. */
export interface ServiceRoutesDeps {
  readonly controller: StateController;
  /** Open WebSockets per service and stack, for the service JSON. */
  readonly websockets: (service: string, stack: string) => number;
  /** Certificates within 14 days of expiry, warned about in the service listing. */
  readonly expiringCertificates: () => string[];
}

interface ServiceParams {
  service: string;
}
interface StackParams extends ServiceParams {
  stack: string;
}

const reason = { type: 'string', maxLength: 500 };
const switchBody = {
  type: 'object',
  required: ['to'],
  additionalProperties: false,
  properties: { to: { type: 'string', minLength: 1 }, force: { type: 'boolean' }, reason },
} as const;
const weightsBody = {
  type: 'object',
  required: ['weights'],
  additionalProperties: false,
  properties: {
    weights: { type: 'object', minProperties: 1, additionalProperties: { type: 'integer', minimum: 0, maximum: 1_000_000 } },
    force: { type: 'boolean' },
    reason,
  },
} as const;
const rollbackBody = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: { force: { type: 'boolean' }, reason },
} as const;
const targetsBody = {
  type: 'object',
  required: ['targets'],
  additionalProperties: false,
  // Each entry is checked by the one target rule in the handler, so a bad one gets INVALID_TARGET naming it.
  properties: { targets: { type: 'array', maxItems: 10_000, items: { type: 'string' } }, reason },
} as const;

/** `?wait=all`: answer once every live fleet instance serves the change (SPEC §9). */
const mutationQuery = {
  type: 'object',
  properties: { wait: { type: 'string', enum: ['all'] } },
} as const;

/** Refuses the first target the config would refuse too (issue 11: `a:99999` was stored, then crashed the checker). */
function checkTargets(targets: readonly string[]): void {
  targets.forEach((target, i) => {
    const problem = targetProblem(target);
    const shown = target.length > 100 ? `${target.slice(0, 100)}…` : target;
    if (problem !== undefined) throw new SwitchyardError('INVALID_TARGET', `targets[${i}] ${JSON.stringify(shown)}: ${problem}`);
  });
}

function mutationOptions(request: FastifyRequest, body: { force?: boolean; reason?: string } | null | undefined): MutationOptions {
  const ifMatch = parseIfMatch(request.headers['if-match']);
  if (Number.isNaN(ifMatch)) throw new SwitchyardError('PRECONDITION_FAILED', 'If-Match names no generation');
  const wait = (request.query as { wait?: string } | undefined)?.wait === 'all' ? 'all' : undefined;
  return { ifMatch, force: body?.force, reason: body?.reason, actor: 'admin-api', wait };
}

/** Registers /v1/services/… (read, switch, weights, rollback, history, targets). */
export function registerServiceRoutes(app: FastifyInstance, deps: ServiceRoutesDeps): void {
  const { controller } = deps;
  const send = (reply: FastifyReply, route: ServiceRoute) => {
    void reply.header('etag', `"${route.state.generation}"`);
    return presentService(route, deps.websockets);
  };

  app.get('/v1/services', async () => ({
    generation: controller.snapshot.generation,
    certificates_expiring_soon: deps.expiringCertificates(),
    services: [...controller.snapshot.services.values()].map((route) => presentService(route, deps.websockets)),
  }));

  app.get<{ Params: ServiceParams }>('/v1/services/:service', async (request, reply) => send(reply, controller.service(request.params.service)));

  app.get<{ Params: ServiceParams }>('/v1/services/:service/history', async (request) => {
    const route = controller.service(request.params.service);
    return { service: route.name, generation: route.state.generation, history: route.state.history };
  });

  app.post<{ Params: ServiceParams; Body: { to: string; force?: boolean; reason?: string } }>(
    '/v1/services/:service/switch',
    { schema: { body: switchBody, querystring: mutationQuery } },
    async (request, reply) => send(reply, await controller.switchTo(request.params.service, request.body.to, mutationOptions(request, request.body))),
  );

  app.put<{ Params: ServiceParams; Body: { weights: Record<string, number>; force?: boolean; reason?: string } }>(
    '/v1/services/:service/weights',
    { schema: { body: weightsBody, querystring: mutationQuery } },
    async (request, reply) => send(reply, await controller.setWeights(request.params.service, request.body.weights, mutationOptions(request, request.body))),
  );

  app.post<{ Params: ServiceParams; Body: { force?: boolean; reason?: string } | null }>(
    '/v1/services/:service/rollback',
    { schema: { body: rollbackBody, querystring: mutationQuery } },
    async (request, reply) => send(reply, await controller.rollback(request.params.service, mutationOptions(request, request.body))),
  );

  app.put<{ Params: StackParams; Body: { targets: string[]; reason?: string } }>(
    '/v1/services/:service/stacks/:stack/targets',
    { schema: { body: targetsBody, querystring: mutationQuery } },
    async (request, reply) => {
      checkTargets(request.body.targets);
      return send(
        reply,
        await controller.setTargets(request.params.service, request.params.stack, request.body.targets, mutationOptions(request, request.body)),
      );
    },
  );
}
