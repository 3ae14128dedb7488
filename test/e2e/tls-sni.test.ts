import { Agent, createServer, request, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MOZILLA_INTERMEDIATE_CIPHERS } from '../../src/tls/policy.js';
import { hstsHeaderValue, tlsServerOptions, trackDefaultCertificate, type TlsListener } from '../../src/tls/server-options.js';
import { CertificateStore } from '../../src/tls/store.js';
import { fingerprintOf, handshake, opensslCert, opensslChain, removeTempDirs, servedFingerprint, tempDir, type Pem } from '../tls/fixtures.js';

interface Running {
  server: Server;
  port: number;
  clientErrors: Error[];
  sockets: Set<Socket>;
  untrack: () => void;
}

async function serve(store: CertificateStore, listener: TlsListener): Promise<Running> {
  const server = createServer(tlsServerOptions(store, listener), (req, res) => res.end(`hello ${req.headers.host ?? ''}`));
  const clientErrors: Error[] = [];
  const sockets = new Set<Socket>();
  server.on('tlsClientError', (err) => clientErrors.push(err));
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const untrack = trackDefaultCertificate(server, store, listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, clientErrors, sockets, untrack };
}

async function stop(running: Running | undefined): Promise<void> {
  if (!running) return;
  running.untrack();
  for (const socket of running.sockets) socket.destroy();
  await new Promise((resolve) => running.server.close(resolve));
}

/** One GET through `agent`; resolves with the body, whether the socket was reused, and the socket. */
function get(port: number, host: string, agent: Agent, ca: string): Promise<{ body: string; reused: boolean; socket: TLSSocket }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', servername: host, headers: { host }, agent, ca }, (res) => {
      const socket = res.socket as TLSSocket;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ body, reused: req.reusedSocket, socket }));
    });
    req.on('error', reject);
    req.end();
  });
}

const listener: TlsListener = { name: 'https', default_cert: 'fallback', hsts_max_age: undefined };

describe('TLS listener (real handshakes)', () => {
  let rsa: Pem;
  let ec: Pem;
  let fallback: Pem;
  let chain: ReturnType<typeof opensslChain>;

  beforeAll(() => {
    rsa = opensslCert({ key: 'rsa', hosts: ['rsa.test'] });
    ec = opensslCert({ key: 'ec', hosts: ['ec.test', '*.ec.test'] });
    fallback = opensslCert({ key: 'ec', hosts: ['fallback.test'] });
    chain = opensslChain();
  });
  afterAll(removeTempDirs);

  let store: CertificateStore;
  let running: Running | undefined;

  beforeEach(async () => {
    store = await CertificateStore.open(tempDir(), pino({ level: 'silent' }));
    await store.add('rsa', rsa.certPem, rsa.keyPem);
    await store.add('ec', ec.certPem, ec.keyPem);
    await store.add('fallback', fallback.certPem, fallback.keyPem);
    await store.add('chain', chain.leaf.certPem + chain.intermediate.certPem, chain.leaf.keyPem);
    running = await serve(store, listener);
  });
  afterEach(async () => {
    await stop(running);
    running = undefined;
  });

  describe('SNI', () => {
    it('serves each uploaded certificate (RSA and ECDSA) to a client that verifies it', async () => {
      const port = (running as Running).port;
      // Pinned: the client trusts only that certificate and checks the host name against it.
      const rsaSocket = await handshake(port, { servername: 'rsa.test', ca: rsa.certPem, rejectUnauthorized: true });
      expect(rsaSocket.authorized).toBe(true);
      expect(rsaSocket.getPeerCertificate().fingerprint256).toBe(fingerprintOf(rsa.certPem));
      rsaSocket.destroy();
      const ecSocket = await handshake(port, { servername: 'ec.test', ca: ec.certPem, rejectUnauthorized: true });
      expect(ecSocket.getPeerCertificate().fingerprint256).toBe(fingerprintOf(ec.certPem));
      expect(ecSocket.getCipher().name).toMatch(/ECDSA|TLS_AES|CHACHA/);
      ecSocket.destroy();
    });

    it('answers a verified HTTPS request by host', async () => {
      const agent = new Agent({ keepAlive: false });
      const { body } = await get((running as Running).port, 'rsa.test', agent, rsa.certPem);
      expect(body).toBe('hello rsa.test');
      agent.destroy();
    });

    it('matches a leading wildcard for one label only', async () => {
      const port = (running as Running).port;
      expect(await servedFingerprint(port, { servername: 'www.ec.test' })).toBe(fingerprintOf(ec.certPem));
      expect(await servedFingerprint(port, { servername: 'a.b.ec.test' })).toBe(fingerprintOf(fallback.certPem));
    });

    it('serves the whole chain, so a client trusting only the root verifies it', async () => {
      const socket = await handshake((running as Running).port, { servername: 'api.chain.test', ca: chain.root.certPem, rejectUnauthorized: true });
      expect(socket.authorized).toBe(true);
      expect(socket.getPeerCertificate().fingerprint256).toBe(fingerprintOf(chain.leaf.certPem));
      socket.destroy();
    });

    it('falls back to default_cert for an unknown name and for clients that send no SNI', async () => {
      const port = (running as Running).port;
      expect(await servedFingerprint(port, { servername: 'unknown.test' })).toBe(fingerprintOf(fallback.certPem));
      // Node sends no SNI for an IP address: this is curl https://127.0.0.1 or a scanner by IP.
      expect(await servedFingerprint(port)).toBe(fingerprintOf(fallback.certPem));
    });

    it('fails the handshake when nothing matches and there is no default_cert', async () => {
      const bare = await serve(store, { name: 'strict', default_cert: undefined, hsts_max_age: undefined });
      try {
        await expect(handshake(bare.port, { servername: 'unknown.test' })).rejects.toThrow();
        await expect(handshake(bare.port)).rejects.toThrow();
        expect(bare.clientErrors.map((e) => e.message)).toContain('no certificate for "unknown.test" on listener strict and no default_cert');
        // Names that do match still work on that listener.
        expect(await servedFingerprint(bare.port, { servername: 'rsa.test' })).toBe(fingerprintOf(rsa.certPem));
      } finally {
        await stop(bare);
      }
    });

    it('prefers an exact name over a wildcard, and the newest of two certificates for a host', async () => {
      const port = (running as Running).port;
      const exact = opensslCert({ hosts: ['exact.ec.test'] });
      await store.add('exact', exact.certPem, exact.keyPem);
      expect(await servedFingerprint(port, { servername: 'exact.ec.test' })).toBe(fingerprintOf(exact.certPem));
      const newer = opensslCert({ hosts: ['rsa.test'] });
      await store.add('newer-rsa', newer.certPem, newer.keyPem);
      expect(await servedFingerprint(port, { servername: 'rsa.test' })).toBe(fingerprintOf(newer.certPem));
      await store.delete('newer-rsa');
      expect(await servedFingerprint(port, { servername: 'rsa.test' })).toBe(fingerprintOf(rsa.certPem));
    });
  });

  describe('protocol policy', () => {
    it('refuses TLS 1.1 (the server refuses it, not the client)', async () => {
      const port = (running as Running).port;
      const attempt = handshake(port, { servername: 'rsa.test', minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
      await expect(attempt).rejects.toThrow(/alert protocol version|unsupported protocol/i);
      expect(running?.clientErrors.some((e) => /unsupported protocol/i.test(e.message))).toBe(true);
    });

    it('speaks TLS 1.2 and 1.3', async () => {
      const port = (running as Running).port;
      for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
        const socket = await handshake(port, { servername: 'rsa.test', minVersion: version, maxVersion: version });
        expect(socket.getProtocol()).toBe(version);
        expect(MOZILLA_INTERMEDIATE_CIPHERS).toContain(socket.getCipher().name);
        socket.destroy();
      }
    });

    it('refuses CBC and non-forward-secret suites under TLS 1.2', async () => {
      const port = (running as Running).port;
      for (const ciphers of ['ECDHE-RSA-AES128-SHA', 'AES128-GCM-SHA256']) {
        await expect(handshake(port, { servername: 'rsa.test', maxVersion: 'TLSv1.2', ciphers })).rejects.toThrow(/handshake failure/);
      }
    });

    it('orders ciphers itself, moving ChaCha20 first for clients that ask for it first', async () => {
      const port = (running as Running).port;
      const pick = async (ciphers: string) => {
        const socket = await handshake(port, { servername: 'rsa.test', maxVersion: 'TLSv1.2', ciphers });
        const name = socket.getCipher().name;
        socket.destroy();
        return name;
      };
      expect(await pick('ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256')).toBe('ECDHE-RSA-AES128-GCM-SHA256');
      expect(await pick('ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256')).toBe('ECDHE-RSA-CHACHA20-POLY1305');
    });

    // Node adds an SNI certificate beside the default one when their key types differ
    // (nodejs/node#54235); the server's preference order must still pick the SNI one.
    for (const defaultType of ['rsa', 'ec'] as const) {
      it(`serves the SNI certificate of either key type when default_cert is ${defaultType.toUpperCase()}`, async () => {
        const typed = await CertificateStore.open(tempDir(), pino({ level: 'silent' }));
        const certs = { rsa: opensslCert({ key: 'rsa', hosts: ['rsa.test'] }), ec: opensslCert({ key: 'ec', hosts: ['ec.test'] }) };
        const byDefault = opensslCert({ key: defaultType, hosts: ['default.test'] });
        await typed.add('rsa', certs.rsa.certPem, certs.rsa.keyPem);
        await typed.add('ec', certs.ec.certPem, certs.ec.keyPem);
        await typed.add('default', byDefault.certPem, byDefault.keyPem);
        const server = await serve(typed, { name: 'typed', default_cert: 'default', hsts_max_age: undefined });
        try {
          const clientPreferences = [
            { ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256', sigalgs: 'rsa_pss_rsae_sha256:rsa_pkcs1_sha256:ecdsa_secp256r1_sha256' },
            { ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256', sigalgs: 'ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256:rsa_pkcs1_sha256' },
          ];
          for (const host of ['rsa', 'ec'] as const) {
            for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
              for (const prefs of clientPreferences) {
                const served = await servedFingerprint(server.port, { servername: `${host}.test`, minVersion: version, maxVersion: version, ...prefs });
                expect(served, `${host}.test over ${version} preferring ${prefs.sigalgs}`).toBe(fingerprintOf(certs[host].certPem));
              }
            }
          }
          expect(await servedFingerprint(server.port)).toBe(fingerprintOf(byDefault.certPem));
        } finally {
          await stop(server);
        }
      });
    }

    it('refuses client-initiated renegotiation', async () => {
      const socket = await handshake((running as Running).port, { servername: 'rsa.test', maxVersion: 'TLSv1.2' });
      const result = await new Promise<Error | null>((resolve) => {
        socket.once('error', resolve);
        socket.renegotiate({ rejectUnauthorized: false }, (err) => resolve(err));
      });
      expect(result).toBeInstanceOf(Error);
      socket.destroy();
    });

    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      it(`resumes ${version} sessions with tickets`, async () => {
        const port = (running as Running).port;
        const first = await handshake(port, { servername: 'ec.test', maxVersion: version });
        // TLS 1.3 tickets arrive after the handshake, in the 'session' event.
        const session = await new Promise<Buffer>((resolve) => {
          const existing = version === 'TLSv1.2' ? first.getSession() : undefined;
          if (existing) resolve(existing);
          else first.once('session', resolve);
        });
        first.destroy();
        const second = await handshake(port, { servername: 'ec.test', maxVersion: version, session });
        expect(second.isSessionReused()).toBe(true);
        expect(second.getProtocol()).toBe(version);
        second.destroy();
      });
    }
  });

  describe('rotation', () => {
    it('serves a replaced certificate to new handshakes while an open keep-alive connection keeps working', async () => {
      const port = (running as Running).port;
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const next = opensslCert({ key: 'rsa', hosts: ['rsa.test'] });
      const bothTrusted = rsa.certPem + next.certPem;
      const before = await get(port, 'rsa.test', agent, bothTrusted);
      expect(before.socket.getPeerCertificate().fingerprint256).toBe(fingerprintOf(rsa.certPem));

      const { replaced } = await store.add('rsa', next.certPem, next.keyPem);
      expect(replaced).toBe(true);

      const after = await get(port, 'rsa.test', agent, bothTrusted);
      expect(after.reused).toBe(true);
      expect(after.socket).toBe(before.socket);
      expect(after.body).toBe('hello rsa.test');
      expect(after.socket.getPeerCertificate().fingerprint256).toBe(fingerprintOf(rsa.certPem));
      expect(await servedFingerprint(port, { servername: 'rsa.test', ca: next.certPem, rejectUnauthorized: true })).toBe(fingerprintOf(next.certPem));
      agent.destroy();
    });

    it('serves a replaced default_cert to clients without SNI', async () => {
      const port = (running as Running).port;
      const next = opensslCert({ hosts: ['fallback.test'] });
      await store.add('fallback', next.certPem, next.keyPem);
      expect(await servedFingerprint(port)).toBe(fingerprintOf(next.certPem));
      expect(await servedFingerprint(port, { servername: 'unknown.test' })).toBe(fingerprintOf(next.certPem));
    });

    it('serves a default_cert created after the server started to clients without SNI', async () => {
      const late = await serve(store, { name: 'late', default_cert: 'late', hsts_max_age: undefined });
      try {
        await expect(handshake(late.port)).rejects.toThrow();
        const { info } = await store.addSelfSigned('late', ['localhost', '127.0.0.1']);
        expect(await servedFingerprint(late.port)).toBe(info.fingerprint256);
      } finally {
        await stop(late);
      }
    });
  });
});

describe('hstsHeaderValue', () => {
  it('is max-age when the listener sets hsts_max_age, else undefined', () => {
    expect(hstsHeaderValue({ name: 'a', default_cert: undefined, hsts_max_age: 31_536_000 })).toBe('max-age=31536000');
    expect(hstsHeaderValue({ name: 'a', default_cert: undefined, hsts_max_age: undefined })).toBeUndefined();
  });
});
