import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAdminApp } from '../../src/admin/app.js';
import { registerCertificateRoutes } from '../../src/admin/routes/certificates.js';
import { EventBus, type SwitchyardEvent } from '../../src/events/bus.js';
import { CertificateStore } from '../../src/tls/store.js';
import { fingerprintOf, opensslCert, removeTempDirs, tempDir, type Pem } from './fixtures.js';

const log = pino({ level: 'silent' });

describe('certificate routes', () => {
  let rsa: Pem;
  let ec: Pem;
  let app: FastifyInstance;
  let store: CertificateStore;
  let events: SwitchyardEvent[];
  let defaults: Set<string>;

  beforeAll(() => {
    rsa = opensslCert({ key: 'rsa', hosts: ['rsa.test'] });
    ec = opensslCert({ key: 'ec', hosts: ['ec.test', '*.ec.test'] });
  });
  afterAll(removeTempDirs);
  beforeEach(async () => {
    const bus = new EventBus();
    events = [];
    bus.subscribe((event) => events.push(event));
    store = await CertificateStore.open(tempDir(), log, bus);
    defaults = new Set(['localhost']);
    app = createAdminApp({ token: undefined, loopback: true, bodyLimit: 1_048_576, log });
    registerCertificateRoutes(app, { store, defaultCerts: () => defaults });
    await app.ready();
  });
  afterEach(() => app.close());

  const post = (url: string, payload: unknown) => app.inject({ method: 'POST', url, payload: payload as object });

  describe('GET /v1/certificates', () => {
    it('lists name, hosts, validity and fingerprint, never key material', async () => {
      expect((await app.inject({ method: 'GET', url: '/v1/certificates' })).json()).toEqual({ certificates: [] });
      await store.add('ec', ec.certPem, ec.keyPem);
      const response = await app.inject({ method: 'GET', url: '/v1/certificates' });
      expect(response.statusCode).toBe(200);
      const [only] = response.json<{ certificates: Record<string, unknown>[] }>().certificates;
      expect(Object.keys(only ?? {}).sort()).toEqual(['expires_soon', 'fingerprint256', 'hosts', 'name', 'next_renewal', 'not_after', 'not_before', 'source']);
      expect(only).toMatchObject({
        name: 'ec',
        hosts: ['ec.test', '*.ec.test'],
        fingerprint256: fingerprintOf(ec.certPem),
        expires_soon: false,
        source: 'uploaded',
        next_renewal: null,
      });
      expect(response.body).not.toMatch(/PRIVATE|BEGIN/);
    });
  });

  describe('POST /v1/certificates', () => {
    it('adds (201) and replaces (200), publishing an event each time', async () => {
      const added = await post('/v1/certificates', { name: 'site', cert: rsa.certPem, key: rsa.keyPem });
      expect(added.statusCode).toBe(201);
      expect(added.json()).toMatchObject({ certificate: { name: 'site', hosts: ['rsa.test'], fingerprint256: fingerprintOf(rsa.certPem) } });
      const replaced = await post('/v1/certificates', { name: 'site', cert: ec.certPem, key: ec.keyPem });
      expect(replaced.statusCode).toBe(200);
      expect(replaced.json()).toMatchObject({ certificate: { name: 'site', fingerprint256: fingerprintOf(ec.certPem) } });
      expect(events.map((e) => e.type === 'certificate' && [e.name, e.action, e.fingerprint256])).toEqual([
        ['site', 'added', fingerprintOf(rsa.certPem)],
        ['site', 'replaced', fingerprintOf(ec.certPem)],
      ]);
    });

    it('refuses a mismatched key with 400 INVALID_CERTIFICATE and the reason, changing nothing', async () => {
      await post('/v1/certificates', { name: 'site', cert: rsa.certPem, key: rsa.keyPem });
      const before = store.list();
      const response = await post('/v1/certificates', { name: 'site', cert: rsa.certPem, key: ec.keyPem });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({ error: { code: 'INVALID_CERTIFICATE', message: 'invalid certificate: the key does not match the certificate' } });
      expect(store.list()).toEqual(before);
      expect(events).toHaveLength(1);
    });

    it('refuses malformed bodies with 400 INVALID_BODY', async () => {
      const bodies = [
        { name: 'site', cert: rsa.certPem },
        { name: 'site', cert: rsa.certPem, key: rsa.keyPem, extra: true },
        { name: '../site', cert: rsa.certPem, key: rsa.keyPem },
        { name: 'site', cert: 42, key: rsa.keyPem },
        { name: 'site', cert: '', key: rsa.keyPem },
      ];
      for (const body of bodies) {
        const response = await post('/v1/certificates', body);
        expect(response.statusCode, JSON.stringify(Object.keys(body))).toBe(400);
        expect(response.json<{ error: { code: string } }>().error.code).toBe('INVALID_BODY');
      }
      expect(store.list()).toEqual([]);
    });
  });

  describe('POST /v1/certificates/self-signed', () => {
    it('generates and installs a certificate for the hosts', async () => {
      const response = await post('/v1/certificates/self-signed', { name: 'demo', hosts: ['demo.test', '127.0.0.1'], days: 30 });
      expect(response.statusCode).toBe(201);
      const { certificate } = response.json<{ certificate: { hosts: string[]; fingerprint256: string } }>();
      expect(certificate.hosts).toEqual(['demo.test']);
      expect(store.get('demo')?.fingerprint256).toBe(certificate.fingerprint256);
      expect(events).toMatchObject([{ type: 'certificate', name: 'demo', action: 'added', fingerprint256: certificate.fingerprint256 }]);
    });

    it('refuses bad hosts, days and names with 400 INVALID_BODY', async () => {
      for (const body of [
        { name: 'demo', hosts: ['not a host'] },
        { name: 'demo', hosts: [] },
        { name: 'demo', hosts: ['a.test'], days: 0 },
        { name: 'demo', hosts: ['a.test'], days: '30' },
        { name: 'de/mo', hosts: ['a.test'] },
        { name: 'demo', hosts: ['a.test'], key: 'x' },
      ]) {
        const response = await post('/v1/certificates/self-signed', body);
        expect(response.statusCode, JSON.stringify(body)).toBe(400);
        expect(response.json<{ error: { code: string } }>().error.code).toBe('INVALID_BODY');
      }
      expect(store.list()).toEqual([]);
    });
  });

  describe('DELETE /v1/certificates/:name', () => {
    it('deletes a certificate and publishes the event', async () => {
      await store.add('ec', ec.certPem, ec.keyPem);
      const response = await app.inject({ method: 'DELETE', url: '/v1/certificates/ec' });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ deleted: 'ec' });
      expect(store.has('ec')).toBe(false);
      // The store publishes every change, whoever made it: the add above, then the delete.
      expect(events).toMatchObject([
        { type: 'certificate', name: 'ec', action: 'added' },
        { type: 'certificate', name: 'ec', action: 'deleted', fingerprint256: fingerprintOf(ec.certPem) },
      ]);
    });

    it("refuses with 409 CERTIFICATE_IN_USE while it is a listener's default_cert", async () => {
      await store.add('localhost', rsa.certPem, rsa.keyPem);
      const response = await app.inject({ method: 'DELETE', url: '/v1/certificates/localhost' });
      expect(response.statusCode).toBe(409);
      expect(response.json<{ error: { code: string } }>().error.code).toBe('CERTIFICATE_IN_USE');
      expect(store.has('localhost')).toBe(true);
      defaults.delete('localhost');
      expect((await app.inject({ method: 'DELETE', url: '/v1/certificates/localhost' })).statusCode).toBe(200);
    });

    it('answers 404 UNKNOWN_CERTIFICATE for a name it does not hold', async () => {
      for (const url of ['/v1/certificates/nope', '/v1/certificates/..%2Fcerts']) {
        const response = await app.inject({ method: 'DELETE', url });
        expect(response.statusCode).toBe(404);
        expect(response.json<{ error: { code: string } }>().error.code).toBe('UNKNOWN_CERTIFICATE');
      }
    });
  });
});
