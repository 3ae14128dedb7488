import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwitchyardError } from '../../src/errors.js';
import { generateSelfSigned } from '../../src/tls/self-signed.js';
import { hostsOf, validateCertificate } from '../../src/tls/validate.js';
import { fingerprintOf, opensslCert, opensslChain, removeTempDirs, type Pem } from './fixtures.js';

const DAY = 86_400_000;

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SwitchyardError);
    expect((err as SwitchyardError).code).toBe('INVALID_CERTIFICATE');
    expect((err as SwitchyardError).status).toBe(400);
    return (err as SwitchyardError).message;
  }
  throw new Error('expected INVALID_CERTIFICATE');
}

describe('validateCertificate', () => {
  let rsa: Pem;
  let ec: Pem;
  let chain: ReturnType<typeof opensslChain>;

  beforeAll(() => {
    rsa = opensslCert({ key: 'rsa', hosts: ['rsa.test', 'www.rsa.test'] });
    ec = opensslCert({ key: 'ec', hosts: ['ec.test', '*.ec.test'] });
    chain = opensslChain();
  });
  afterAll(removeTempDirs);

  it('accepts an RSA certificate and reports hosts, dates and fingerprint', () => {
    const valid = validateCertificate(rsa.certPem, rsa.keyPem);
    expect(valid.hosts).toEqual(['rsa.test', 'www.rsa.test']);
    expect(valid.fingerprint256).toBe(fingerprintOf(rsa.certPem));
    expect(valid.notAfter.getTime() - valid.notBefore.getTime()).toBe(30 * DAY);
    expect(valid.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('accepts an ECDSA certificate (which node-forge could not parse)', () => {
    const valid = validateCertificate(ec.certPem, ec.keyPem);
    expect(valid.hosts).toEqual(['ec.test', '*.ec.test']);
    expect(valid.fingerprint256).toBe(fingerprintOf(ec.certPem));
  });

  it('accepts a chain in order and keeps only the PEM blocks', () => {
    const pem = `leaf:\n${chain.leaf.certPem}intermediate:\n${chain.intermediate.certPem}`;
    const valid = validateCertificate(pem, chain.leaf.keyPem);
    expect(valid.certPem).toBe(`${chain.leaf.certPem.trim()}\n${chain.intermediate.certPem.trim()}\n`);
    expect(valid.hosts).toEqual(['chain.test', '*.chain.test']);
  });

  it('accepts a chain that ends with its root', () => {
    expect(() => validateCertificate(chain.leaf.certPem + chain.intermediate.certPem + chain.root.certPem, chain.leaf.keyPem)).not.toThrow();
  });

  it('refuses a chain out of order', () => {
    expect(reasonOf(() => validateCertificate(chain.leaf.certPem + chain.root.certPem + chain.intermediate.certPem, chain.leaf.keyPem))).toMatch(
      /certificate 2 \(CN=Test Root\) did not issue certificate 1 \(CN=chain.test\).*leaf first/,
    );
    expect(reasonOf(() => validateCertificate(chain.intermediate.certPem + chain.leaf.certPem, chain.leaf.keyPem))).toMatch(/does not match|did not issue/);
  });

  it('refuses a key that does not match', () => {
    expect(reasonOf(() => validateCertificate(rsa.certPem, ec.keyPem))).toMatch(/the key does not match the certificate/);
    const otherRsa = opensslCert({ key: 'rsa', hosts: ['other.test'] });
    expect(reasonOf(() => validateCertificate(rsa.certPem, otherRsa.keyPem))).toMatch(/the key does not match the certificate/);
  });

  it('refuses garbage', () => {
    expect(reasonOf(() => validateCertificate('hello', rsa.keyPem))).toMatch(/no PEM certificate/);
    expect(reasonOf(() => validateCertificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', rsa.keyPem))).toMatch(
      /certificate 1 does not parse/,
    );
    expect(reasonOf(() => validateCertificate(rsa.certPem, 'not a key'))).toMatch(/the key does not parse/);
    expect(reasonOf(() => validateCertificate(rsa.certPem, ''))).toMatch(/the key does not parse/);
  });

  it('refuses an expired certificate', async () => {
    const expired = await generateSelfSigned(['expired.test'], { now: new Date(Date.now() - 40 * DAY), days: 30 });
    expect(reasonOf(() => validateCertificate(expired.certPem, expired.keyPem))).toMatch(/certificate 1 \(CN=expired.test\) expired on \d{4}-/);
  });

  it('refuses a certificate not valid yet', async () => {
    const future = await generateSelfSigned(['future.test'], { now: new Date(Date.now() + 2 * DAY) });
    expect(reasonOf(() => validateCertificate(future.certPem, future.keyPem))).toMatch(/is not valid before/);
  });

  it('loads an expired certificate from disk (the store logs it), still checks the key, defers the context', async () => {
    const expired = await generateSelfSigned(['expired.test'], { now: new Date(Date.now() - 40 * DAY), days: 30 });
    const loaded = validateCertificate(expired.certPem, expired.keyPem, { fromDisk: true });
    expect(loaded.hosts).toEqual(['expired.test']);
    expect(loaded.context).toBeUndefined();
    expect(reasonOf(() => validateCertificate(rsa.certPem, ec.keyPem, { fromDisk: true }))).toMatch(/the key does not match the certificate/);
  });

  it('refuses RSA keys under 2048 bits', () => {
    const weak = opensslCert({ key: 'rsa1024', hosts: ['weak.test'] });
    expect(reasonOf(() => validateCertificate(weak.certPem, weak.keyPem))).toMatch(/1024 bits; at least 2048/);
  });
});

describe('hostsOf', () => {
  afterAll(removeTempDirs);

  it('uses the CN when there is no SAN', () => {
    const pem = opensslCert({ cn: 'Only-CN.test' });
    expect(hostsOf(new X509Certificate(pem.certPem))).toEqual(['only-cn.test']);
  });

  it('takes DNS names of the SAN, lower-cased and de-duplicated, ignoring the CN', () => {
    const pem = opensslCert({ cn: 'cn.test', hosts: ['A.test', 'a.test', '*.B.test'] });
    expect(hostsOf(new X509Certificate(pem.certPem))).toEqual(['a.test', '*.b.test']);
  });
});
