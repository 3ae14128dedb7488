import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signSelfSigned } from '../../src/tls/self-signed.js';
import { tlsServerOptions } from '../../src/tls/server-options.js';
import { CertificateStore } from '../../src/tls/store.js';
import { fingerprintOf, removeTempDirs, servedFingerprint, tempDir } from '../tls/fixtures.js';

const COUNT = 10_000;
const DAY = 86_400_000;

/** Median time of `rounds` batches of `calls` lookups, in ns per lookup. */
function lookupCost(store: CertificateStore, names: string[], rounds = 7, calls = 20_000): number {
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) store.contextFor(names[i % names.length], undefined);
    samples.push(Number(process.hrtime.bigint() - start) / calls);
  }
  return samples.sort((a, b) => a - b)[Math.floor(rounds / 2)] as number;
}

describe('CertificateStore with 10,000 certificates', () => {
  let store: CertificateStore;
  let server: Server;
  let port: number;
  let lastPem: string;
  let loadMs: number;

  beforeAll(async () => {
    const dir = tempDir();
    // One key for all: key generation is not what is measured; every certificate is distinct.
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyPem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const notBefore = new Date(Date.now() - DAY);
    const notAfter = new Date(Date.now() + 90 * DAY);
    const pems = await Promise.all(Array.from({ length: COUNT }, (_, i) => signSelfSigned(keys, [`h${i}.bulk.test`], notBefore, notAfter)));
    lastPem = pems[COUNT - 1] as string;
    for (let i = 0; i < COUNT; i += 500) {
      await Promise.all(
        pems
          .slice(i, i + 500)
          .flatMap((pem, j) => [writeFile(join(dir, `c${i + j}.crt`), pem), writeFile(join(dir, `c${i + j}.key`), keyPem, { mode: 0o600 })]),
      );
    }
    const start = performance.now();
    store = await CertificateStore.open(dir, pino({ level: 'silent' }));
    loadMs = performance.now() - start;
    server = createServer(tlsServerOptions(store, { name: 'bulk', default_cert: undefined, hsts_max_age: undefined }), (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  }, 120_000);

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    removeTempDirs();
  });

  it('loads all of them', () => {
    expect(store.list()).toHaveLength(COUNT);
    // Reported, not asserted: it depends on the machine (about 1.2 ms per certificate here).
    console.info(`loaded ${COUNT} certificates in ${Math.round(loadMs)} ms`);
  });

  it('answers SNI for the 10,000th certificate with the right one', async () => {
    expect(await servedFingerprint(port, { servername: `h${COUNT - 1}.bulk.test` })).toBe(fingerprintOf(lastPem));
    expect(await servedFingerprint(port, { servername: 'H0.Bulk.Test' })).toBe(store.list().find((c) => c.name === 'c0')?.fingerprint256);
  });

  it('costs per lookup what a store with one certificate costs (Map lookups, no scan)', async () => {
    const dir = tempDir();
    const one = await CertificateStore.open(dir, pino({ level: 'silent' }));
    const single = await one.addSelfSigned('one', ['h0.bulk.test']);
    expect(single.info.hosts).toEqual(['h0.bulk.test']);
    const many = lookupCost(
      store,
      Array.from({ length: 1000 }, (_, i) => `h${i * 10}.bulk.test`),
    );
    const few = lookupCost(
      one,
      Array.from({ length: 1000 }, () => 'h0.bulk.test'),
    );
    // A scan over 10,000 entries would be thousands of times slower; allow for cache effects.
    expect(many).toBeLessThan(Math.max(few * 10, 2_000));
  });
});
