import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAdminApp } from '../../src/admin/app.js';
import { registerCertificateRoutes } from '../../src/admin/routes/certificates.js';
import { CertificateStore } from '../../src/tls/store.js';
import { runCertCli } from '../helpers/cert-cli.js';
import { opensslCert, removeTempDirs, tempDir } from './fixtures.js';

const log = pino({ level: 'silent' });

describe('switchyard cert', () => {
  let app: FastifyInstance;
  let store: CertificateStore;
  let base: string;
  let files: string;

  beforeAll(() => {
    files = tempDir();
    const rsa = opensslCert({ key: 'rsa', hosts: ['rsa.test'] });
    const ec = opensslCert({ key: 'ec', hosts: ['ec.test'] });
    writeFileSync(join(files, 'rsa.crt'), rsa.certPem);
    writeFileSync(join(files, 'rsa.key'), rsa.keyPem);
    writeFileSync(join(files, 'ec.key'), ec.keyPem);
  });
  afterAll(removeTempDirs);
  beforeEach(async () => {
    store = await CertificateStore.open(tempDir(), log);
    app = createAdminApp({ token: undefined, loopback: true, bodyLimit: 1_048_576, log });
    registerCertificateRoutes(app, { store, defaultCerts: () => new Set() });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await app.close();
    process.exitCode = undefined;
  });

  /** Runs `switchyard <args>` against the test admin API; returns what it printed and its exit code. */
  const run = (...args: string[]) => runCertCli(base, ...args);

  it('self-signed: installs a certificate and prints its SHA-256 fingerprint', async () => {
    const result = await run('cert', 'self-signed', 'demo', '--host', 'localhost', '--host', '127.0.0.1', '--days', '30');
    expect(result.code).toBe(0);
    const fingerprint = store.get('demo')?.fingerprint256 as string;
    expect(fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(result.stdout).toContain('installed self-signed certificate "demo" for localhost');
    expect(result.stdout).toContain(`SHA-256 fingerprint:\n  ${fingerprint}\n`);
  });

  it('self-signed: needs at least one --host (exit 2)', async () => {
    const result = await run('cert', 'self-signed', 'demo');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/at least one --host/);
    expect(store.list()).toEqual([]);
  });

  it('self-signed: a bad host is refused by the API (exit 1, its message)', async () => {
    const result = await run('cert', 'self-signed', 'demo', '--host', 'bad host');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: INVALID_BODY: "bad host" is not a host name/);
  });

  it('add: uploads the files and prints the fingerprint', async () => {
    const result = await run('cert', 'add', 'site', '--cert', join(files, 'rsa.crt'), '--key', join(files, 'rsa.key'));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(store.get('site')?.fingerprint256);
    expect(result.stdout).toContain('installed certificate "site" for rsa.test');
  });

  it('add: a mismatched key fails with the reason (exit 1) and changes nothing', async () => {
    const result = await run('cert', 'add', 'site', '--cert', join(files, 'rsa.crt'), '--key', join(files, 'ec.key'));
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('error: INVALID_CERTIFICATE: invalid certificate: the key does not match the certificate\n');
    expect(store.has('site')).toBe(false);
  });

  it('add: an unreadable file is bad usage (exit 2)', async () => {
    const result = await run('cert', 'add', 'site', '--cert', join(files, 'missing.crt'), '--key', join(files, 'rsa.key'));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/cannot read --cert .*missing.crt: ENOENT/);
  });

  it('add: --cert and --key are required', async () => {
    await expect(run('cert', 'add', 'site', '--cert', join(files, 'rsa.crt'))).rejects.toThrow(/--key/);
  });

  it('list: shows name, hosts, validity and fingerprint; --json prints the API answer', async () => {
    expect((await run('cert', 'list')).stdout).toBe('no certificates\n');
    await store.addSelfSigned('demo', ['demo.test'], 10);
    const info = store.get('demo');
    const text = await run('cert', 'list');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('demo  EXPIRES SOON');
    expect(text.stdout).toContain('hosts:      demo.test');
    expect(text.stdout).toContain(`sha256:     ${info?.fingerprint256}`);
    const json = await run('cert', 'list', '--json');
    expect(JSON.parse(json.stdout)).toEqual({ certificates: [{ ...info, next_renewal: null }] });
    expect(text.stdout).toContain('source:     self-signed');
  });

  it('list: an unreachable admin API fails with exit 1', async () => {
    await app.close();
    const result = await run('cert', 'list');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/UNREACHABLE/);
  });
});
