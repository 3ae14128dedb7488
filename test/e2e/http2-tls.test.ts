import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { h2Request, h2Session } from '../helpers/h2.js';
import { startSwitchyard } from '../helpers/switchyard.js';
import { startUpstream } from '../helpers/upstream.js';
import { fingerprintOf, handshake, opensslCert, removeTempDirs, servedFingerprint, type Pem } from '../tls/fixtures.js';

/** A switchyard whose TLS listener (h2 on, default_cert `fallback`) serves the certificates `rsa` (rsa.test) and `fallback`. */
async function start(rsa: Pem, fallback: Pem): Promise<Switchyard> {
  const upstream = await startUpstream('ok');
  const app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [upstream.address] } } }], {
    listeners: [{ name: 'https', port: 0, address: '127.0.0.1', tls: true, default_cert: 'fallback' }],
  });
  await app.certificates.add('rsa', rsa.certPem, rsa.keyPem);
  await app.certificates.add('fallback', fallback.certPem, fallback.keyPem);
  return app;
}

describe('TLS of an h2-enabled listener', () => {
  let rsa: Pem;
  let fallback: Pem;
  beforeAll(() => {
    rsa = opensslCert({ key: 'rsa', hosts: ['rsa.test'] });
    fallback = opensslCert({ key: 'ec', hosts: ['fallback.test'] });
  });
  afterAll(removeTempDirs);

  it('picks the certificate by SNI for h2 clients, verified, and falls back to default_cert without SNI', async () => {
    const app = await start(rsa, fallback);
    const port = app.port('https');
    const session = await h2Session(port, { servername: 'rsa.test', ca: rsa.certPem, rejectUnauthorized: true });
    const socket = session.socket as TLSSocket;
    expect(socket.alpnProtocol).toBe('h2');
    expect(socket.getPeerCertificate().fingerprint256).toBe(fingerprintOf(rsa.certPem));
    expect((await h2Request(session, { ':authority': 'rsa.test' })).status).toBe(200);
    expect(await servedFingerprint(port, { ALPNProtocols: ['h2'] })).toBe(fingerprintOf(fallback.certPem));
  });

  it('serves a replaced certificate to new h2 connections while an open one keeps working', async () => {
    const app = await start(rsa, fallback);
    const port = app.port('https');
    const before = await h2Session(port, { servername: 'rsa.test' });
    const next = opensslCert({ key: 'rsa', hosts: ['rsa.test'] });
    await app.certificates.add('rsa', next.certPem, next.keyPem);
    expect((await h2Request(before, { ':authority': 'rsa.test' })).status).toBe(200);
    expect((before.socket as TLSSocket).getPeerCertificate().fingerprint256).toBe(fingerprintOf(rsa.certPem));
    const after = await h2Session(port, { servername: 'rsa.test', ca: next.certPem, rejectUnauthorized: true });
    expect((after.socket as TLSSocket).getPeerCertificate().fingerprint256).toBe(fingerprintOf(next.certPem));
    // The base context (clients without SNI) follows a replaced default_cert.
    const nextFallback = opensslCert({ hosts: ['fallback.test'] });
    await app.certificates.add('fallback', nextFallback.certPem, nextFallback.keyPem);
    expect(await servedFingerprint(port, { ALPNProtocols: ['h2'] })).toBe(fingerprintOf(nextFallback.certPem));
  });

  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`resumes ${version} sessions with tickets, negotiating h2 again, across a default_cert rotation`, async () => {
      const app = await start(rsa, fallback);
      const port = app.port('https');
      const options = { servername: 'rsa.test', maxVersion: version, ALPNProtocols: ['h2', 'http/1.1'] };
      const first = await handshake(port, options);
      expect(first.alpnProtocol).toBe('h2');
      const ticket = await new Promise<Buffer>((resolve) => {
        const existing = version === 'TLSv1.2' ? first.getSession() : undefined;
        if (existing) resolve(existing);
        else first.once('session', resolve);
      });
      first.destroy();
      // Rebuilding the base context keeps the ticket keys.
      const nextFallback = opensslCert({ hosts: ['fallback.test'] });
      await app.certificates.add('fallback', nextFallback.certPem, nextFallback.keyPem);
      const second = await handshake(port, { ...options, session: ticket });
      expect(second.isSessionReused()).toBe(true);
      expect(second.alpnProtocol).toBe('h2');
      expect(second.getProtocol()).toBe(version);
      second.destroy();
    });
  }

  it('keeps the TLS policy: TLS 1.1 is refused, TLS 1.2 gets an AEAD suite with h2', async () => {
    const app = await start(rsa, fallback);
    const port = app.port('https');
    await expect(handshake(port, { servername: 'rsa.test', minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' })).rejects.toThrow();
    const socket = await handshake(port, { servername: 'rsa.test', maxVersion: 'TLSv1.2', ALPNProtocols: ['h2'] });
    expect(socket.alpnProtocol).toBe('h2');
    expect(socket.getCipher().name).toMatch(/^ECDHE-RSA-(AES128-GCM|AES256-GCM|CHACHA20)/);
    socket.destroy();
  });
});
