import type { FastifyInstance } from 'fastify';
import { MAX_ACME_HOSTS } from '../../config/acme-hosts.js';
import type { AcmeManager } from '../../acme/manager.js';
import { SwitchyardError } from '../../errors.js';
import { CERTIFICATE_NAME_PATTERN } from '../../config/certificate-names.js';
import { MAX_SELF_SIGNED_DAYS, MAX_SELF_SIGNED_HOSTS } from '../../tls/self-signed.js';
import type { CertificateStore } from '../../tls/store.js';

/** What the certificate routes read and call. */
export interface CertificateRoutesDeps {
  readonly store: CertificateStore;
  /** Names that are some listener's `default_cert` (these cannot be deleted). */
  readonly defaultCerts: () => ReadonlySet<string>;
  /** ACME: next renewals, POST /v1/certificates/acme, and the certificates it manages. */
  readonly acme?: AcmeManager;
}

interface NameParams {
  name: string;
}
interface AddBody {
  name: string;
  cert: string;
  key: string;
}
interface AcmeBody {
  name: string;
  hosts: string[];
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

// No minItems: normalizeAcmeHosts answers an empty list with a plainer message than the schema would.
const acmeBody = {
  type: 'object',
  required: ['name', 'hosts'],
  additionalProperties: false,
  properties: {
    name,
    hosts: { type: 'array', maxItems: MAX_ACME_HOSTS, items: { type: 'string', minLength: 1, maxLength: 253 } },
  },
} as const;

/** 409 when config's `certificates` declares `name`: ACME owns it until the config says otherwise. */
function refuseDeclared(acme: AcmeManager | undefined, target: string): void {
  if (acme?.isDeclared(target)) {
    throw new SwitchyardError('CERTIFICATE_IN_USE', `certificate "${target}" is declared with acme: true in the config; change the config first`);
  }
}

/**
 * Registers /v1/certificates: list (with source and next renewal), upload (add or replace,
 * 201 when new, 200 when replaced), self-signed generation, ACME orders (202, then an
 * `acme` event) and their status, delete (409 while a listener's default_cert or declared
 * in config). Every change is live for the next handshake; the store publishes it on the event bus.
 */
export function registerCertificateRoutes(app: FastifyInstance, deps: CertificateRoutesDeps): void {
  const { store, acme } = deps;

  app.get('/v1/certificates', async () => ({
    certificates: store.list().map((info) => ({ ...info, next_renewal: acme?.nextRenewal(info.name) ?? null })),
  }));

  app.post<{ Body: AddBody }>('/v1/certificates', { schema: { body: addBody } }, async (request, reply) => {
    refuseDeclared(acme, request.body.name);
    const { info, replaced } = await store.add(request.body.name, request.body.cert, request.body.key);
    // An upload replaces an API-requested ACME certificate for good: it is no longer renewed.
    await acme?.forget(info.name);
    void reply.code(replaced ? 200 : 201);
    return { certificate: info };
  });

  app.post<{ Body: SelfSignedBody }>('/v1/certificates/self-signed', { schema: { body: selfSignedBody } }, async (request, reply) => {
    refuseDeclared(acme, request.body.name);
    const { info, replaced } = await store.addSelfSigned(request.body.name, request.body.hosts, request.body.days);
    await acme?.forget(info.name);
    void reply.code(replaced ? 200 : 201);
    return { certificate: info };
  });

  app.get('/v1/certificates/acme', async () => ({ certificates: acme?.list() ?? [] }));

  // 202: the order runs in the background; an `acme` event says when it is issued (or why not).
  app.post<{ Body: AcmeBody }>('/v1/certificates/acme', { schema: { body: acmeBody } }, async (request, reply) => {
    if (acme === undefined) throw new SwitchyardError('ACME_NOT_CONFIGURED');
    const status = await acme.request(request.body.name, request.body.hosts);
    void reply.code(202);
    return { certificate: status };
  });

  app.delete<{ Params: NameParams }>('/v1/certificates/:name', async (request) => {
    const target = request.params.name;
    const info = store.get(target);
    const ordered = acme?.manages(target) ?? false;
    if (!info && !ordered) throw new SwitchyardError('UNKNOWN_CERTIFICATE', `no certificate "${target}"`);
    if (deps.defaultCerts().has(target))
      throw new SwitchyardError('CERTIFICATE_IN_USE', `certificate "${target}" is a listener default_cert; change the listener first`);
    refuseDeclared(acme, target);
    if (info) await store.delete(target);
    // An ACME certificate requested through the API is no longer ordered or renewed.
    await acme?.forget(target);
    return { deleted: target };
  });
}
