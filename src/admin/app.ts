import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { SwitchyardError } from '../errors.js';
import { foreignOrigin, tokenMatches } from './guards.js';

/** What the admin app needs besides its routes. */
export interface AdminOptions {
  /** Bearer token every route outside PUBLIC_ROUTES must carry; undefined = none required (loopback only). */
  readonly token: string | undefined;
  /** The admin listener is bound to a loopback address: enable the Host/Origin guard. */
  readonly loopback: boolean;
  /** Largest request body in bytes (413 beyond). */
  readonly bodyLimit: number;
  readonly log: Logger;
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The routes anyone may read without the token (SPEC §5), by the pattern they were
 * registered with; only GET and HEAD. The dashboard's files are public (they hold no data).
 */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/metrics', '/ui', '/ui/', '/ui/*']);
const PUBLIC_METHODS = new Set(['GET', 'HEAD']);

/**
 * Whether the route the router matched is public. Decided on the matched route, never on
 * the raw URL: the router decodes `%76`, resolves absolute-form targets and may ignore
 * case or slashes, so a prefix test on `request.url` can be walked around (issue 11).
 * Anything unmatched (the 404 route) is not public, so without the token the route table
 * cannot be probed either.
 */
function isPublic(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  return route !== undefined && PUBLIC_ROUTES.has(route) && PUBLIC_METHODS.has(request.method);
}

/** Longest part of a request URL echoed in a 404 message. */
const ECHOED_URL_LENGTH = 200;

function errorCodeFor(err: FastifyError): SwitchyardError {
  if (err.validation) return new SwitchyardError('INVALID_BODY', `invalid body: ${err.message.replace(/^body\/?/, '')}`);
  switch (err.statusCode) {
    case 413:
      return new SwitchyardError('BODY_TOO_LARGE');
    case 415:
      return new SwitchyardError('UNSUPPORTED_MEDIA_TYPE');
    case 400:
      return new SwitchyardError('INVALID_BODY', `invalid body: ${err.message}`);
    case 404:
      return new SwitchyardError('NOT_FOUND');
    default:
      return new SwitchyardError('INTERNAL');
  }
}

/**
 * The admin API's fastify instance with its guards: loopback Host/Origin check (403),
 * bearer token on every route but PUBLIC_ROUTES (401), JSON-only mutations (415), body
 * limit (413), and one error format `{"error":{"code","message"}}` from the catalogue.
 */
export function createAdminApp(options: AdminOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit,
    // Unknown fields and wrong types are errors, never silently dropped or coerced.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
  });
  app.removeContentTypeParser('text/plain');

  // fastify routes before onRequest runs, so `request.routeOptions` is the matched route here.
  app.addHook('onRequest', async (request) => {
    if (options.loopback) {
      const refusal = foreignOrigin(request.headers.host, request.headers.origin);
      if (refusal) throw new SwitchyardError('FORBIDDEN_ORIGIN', refusal);
    }
    // Deny by default: a route needs the token unless it is on the public list.
    if (options.token !== undefined && !isPublic(request) && !tokenMatches(request.headers.authorization, options.token)) {
      throw new SwitchyardError('UNAUTHORIZED');
    }
    if (MUTATING.has(request.method)) {
      const type = request.headers['content-type'];
      // A bodyless call may omit the type; anything typed must be JSON (no form posts: CSRF).
      if (type !== undefined && !/^application\/json\s*(;|$)/i.test(type)) throw new SwitchyardError('UNSUPPORTED_MEDIA_TYPE');
    }
  });

  app.setErrorHandler((err: FastifyError | SwitchyardError, request, reply) => {
    const error = err instanceof SwitchyardError ? err : errorCodeFor(err);
    if (error.code === 'INTERNAL') options.log.error({ err, url: request.url }, 'admin request failed');
    void reply.code(error.status).send(error.toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new SwitchyardError('NOT_FOUND', `no route ${request.method} ${request.url.slice(0, ECHOED_URL_LENGTH)}`);
    void reply.code(error.status).send(error.toJSON());
  });
  return app;
}
