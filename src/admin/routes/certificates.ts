import type { FastifyInstance } from 'fastify';
import { SwitchyardError } from '../../errors.js';
import { CERTIFICATE_NAME_PATTERN } from '../../tls/names.js';
import { MAX_SELF_SIGNED_DAYS, MAX_SELF_SIGNED_HOSTS } from '../../tls/self-signed.js';
import type { CertificateStore } from '../../tls/store.js';

/** What the certificate routes read and call. */
export interface CertificateRoutesDeps {
  readonly store: CertificateStore;
  /** Names that are some listener's `default_cert` (these cannot be deleted). */
  readonly defaultCerts: () => ReadonlySet<string>;
}

interface NameParams {
  name: string;
}
interface AddBody {
  name: string;
  cert: string;
  key: string;
}
interface SelfSignedBody {
  name: string;
  hosts: string[];
  days?: number;
}

const name = { type: 'string', pattern: CERTIFICATE_NAME_PATTERN.source } as const;
const addBody = {
  type: 'object',
  required: ['name', 'cert', 'key'],
  additionalProperties: false,
  properties: {
    name,
    // A chain of a few certificates is a few kilobytes; the admin body limit caps the total.
    cert: { type: 'string', minLength: 1, maxLength: 1_000_000 },
    key: { type: 'string', minLength: 1, maxLength: 100_000 },
  },
} as const;
const selfSignedBody = {
  type: 'object',
  required: ['name', 'hosts'],
  additionalProperties: false,
  properties: {
    name,
    hosts: { type: 'array', minItems: 1, maxItems: MAX_SELF_SIGNED_HOSTS, items: { type: 'string', minLength: 1, maxLength: 253 } },
    days: { type: 'integer', minimum: 1, maximum: MAX_SELF_SIGNED_DAYS },
  },
} as const;

/**
 * Registers /v1/certificates: list, upload (add or replace, 201 when new, 200 when
 * replaced), self-signed generation, delete (409 while a listener's default_cert).
 * Every change is live for the next handshake; the store publishes it on the event bus.
 */
export function registerCertificateRoutes(app: FastifyInstance, deps: CertificateRoutesDeps): void {
  const { store } = deps;

  app.get('/v1/certificates', async () => ({ certificates: store.list() }));

  app.post<{ Body: AddBody }>('/v1/certificates', { schema: { body: addBody } }, async (request, reply) => {
    const { info, replaced } = await store.add(request.body.name, request.body.cert, request.body.key);
    void reply.code(replaced ? 200 : 201);
    return { certificate: info };
  });

  app.post<{ Body: SelfSignedBody }>('/v1/certificates/self-signed', { schema: { body: selfSignedBody } }, async (request, reply) => {
    const { info, replaced } = await store.addSelfSigned(request.body.name, request.body.hosts, request.body.days);
    void reply.code(replaced ? 200 : 201);
    return { certificate: info };
  });

  app.delete<{ Params: NameParams }>('/v1/certificates/:name', async (request) => {
    const target = request.params.name;
    const info = store.get(target);
    if (!info) throw new SwitchyardError('UNKNOWN_CERTIFICATE', `no certificate "${target}"`);
    if (deps.defaultCerts().has(target))
      throw new SwitchyardError('CERTIFICATE_IN_USE', `certificate "${target}" is a listener default_cert; change the listener first`);
    await store.delete(target);
    return { deleted: target };
  });
}
