import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwitchyardError } from '../../src/errors.js';
import { signSelfSigned } from '../../src/tls/self-signed.js';
import { MAX_CERTIFICATE_PEM, MAX_CHAIN, MAX_PEM_BLOCKS, validateCertificate, validateUpload } from '../../src/tls/validate.js';
import { opensslCert, opensslChain, removeTempDirs, tempDir, type Pem } from './fixtures.js';

const DAY = 86_400_000;

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SwitchyardError);
    expect((err as SwitchyardError).code).toBe('INVALID_CERTIFICATE');
    return (err as SwitchyardError).message;
  }
  throw new Error('expected INVALID_CERTIFICATE');
}

/** A certificate for an RSA public key made up from a modulus and exponent (signed by another key). */
async function certificateForRsaKey(modulus: Buffer, exponent: Buffer): Promise<string> {
  const publicKey = createPublicKey({ key: { kty: 'RSA', n: modulus.toString('base64url'), e: exponent.toString('base64url') }, format: 'jwk' });
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const now = Date.now();
  return signSelfSigned({ publicKey, privateKey }, ['made-up.test'], new Date(now - DAY), new Date(now + DAY));
}

/** An odd number of `bits` bits with its top bit set (not a real modulus: no check here multiplies with it). */
function oddNumber(bits: number): Buffer {
  const bytes = randomBytes(Math.ceil(bits / 8));
  bytes[0] = ((bytes[0] ?? 0) | 0x80) >> (bytes.length * 8 - bits);
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) | 1;
  return bytes;
}

describe('validateCertificate limits (issue 11)', () => {
  let rsa: Pem;
  let ec: Pem;

  beforeAll(() => {
    rsa = opensslCert({ key: 'rsa', hosts: ['rsa.test'] });
    ec = opensslCert({ key: 'ec', hosts: ['ec.test'] });
  });
  afterAll(removeTempDirs);

  describe('PEM', () => {
    it('refuses 1 MB of BEGIN lines without END lines, naming the problem', () => {
      expect(reasonOf(() => validateCertificate('-----BEGIN CERTIFICATE-----\n'.repeat(35_000), rsa.keyPem))).toBe(
        'invalid certificate: the cert is not clean PEM: PEM block 1 (CERTIFICATE) has no "-----END CERTIFICATE-----" line',
      );
    });

    it(`refuses more than ${MAX_PEM_BLOCKS} blocks and more than ${MAX_CHAIN} certificates`, () => {
      expect(reasonOf(() => validateCertificate(rsa.certPem.repeat(MAX_PEM_BLOCKS + 1), rsa.keyPem))).toMatch(
        `the cert is not clean PEM: more than ${MAX_PEM_BLOCKS} PEM blocks`,
      );
      expect(reasonOf(() => validateCertificate(rsa.certPem.repeat(MAX_CHAIN + 1), rsa.keyPem))).toMatch(
        `the chain has ${MAX_CHAIN + 1} certificates; at most ${MAX_CHAIN} are accepted`,
      );
    });

    it(`refuses a certificate longer than ${MAX_CERTIFICATE_PEM} characters of PEM before parsing it`, () => {
      const huge = `-----BEGIN CERTIFICATE-----\n${'A'.repeat(MAX_CERTIFICATE_PEM)}\n-----END CERTIFICATE-----\n`;
      expect(reasonOf(() => validateCertificate(rsa.certPem + huge, rsa.keyPem))).toMatch(
        new RegExp(`certificate 2 is ${huge.length - 1} characters of PEM; at most ${MAX_CERTIFICATE_PEM} are accepted`),
      );
    });

    it('ignores a key pasted into the cert field, as before', () => {
      expect(validateCertificate(rsa.certPem + rsa.keyPem, rsa.keyPem).certPem).toBe(`${rsa.certPem.trim()}\n`);
    });
  });

  describe('key', () => {
    it('accepts a SEC1 key after its EC PARAMETERS block and stores it as PKCS#8', () => {
      const sec1 = createPrivateKey(ec.keyPem).export({ type: 'sec1', format: 'pem' }).toString();
      const withParameters = `-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n${sec1}`;
      expect(validateCertificate(ec.certPem, withParameters).keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    });

    it('refuses two private keys, an encrypted key, and a key without its END line', () => {
      expect(reasonOf(() => validateCertificate(rsa.certPem, rsa.keyPem + ec.keyPem))).toMatch('the key holds 2 private keys; exactly one is expected');
      const encrypted = createPrivateKey(rsa.keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }).toString();
      expect(reasonOf(() => validateCertificate(rsa.certPem, encrypted))).toMatch('the key is encrypted; upload it unencrypted');
      expect(reasonOf(() => validateCertificate(rsa.certPem, rsa.keyPem.replace(/-----END PRIVATE KEY-----/, '')))).toMatch(
        'the key is not clean PEM: PEM block 1 (PRIVATE KEY) has no "-----END PRIVATE KEY-----" line',
      );
      expect(reasonOf(() => validateCertificate(rsa.certPem, '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'))).toMatch(
        /the key does not parse \(PEM, unencrypted\): no .* PRIVATE KEY-----" block found/,
      );
    });
  });

  describe('keys whose signature checks cost too much', () => {
    it('refuses an RSA public exponent over 32 bits before any check', async () => {
      const cert = await certificateForRsaKey(oddNumber(2048), Buffer.from('010000000001', 'hex'));
      expect(reasonOf(() => validateCertificate(rsa.certPem + cert, rsa.keyPem))).toMatch(
        'certificate 2 (CN=made-up.test) has an RSA public exponent over 32 bits; use 65537',
      );
    });

    it('refuses an RSA modulus over 8192 bits', async () => {
      const cert = await certificateForRsaKey(oddNumber(8200), Buffer.from('010001', 'hex'));
      expect(reasonOf(() => validateCertificate(cert, rsa.keyPem))).toMatch('certificate 1 (CN=made-up.test) has a 8200-bit RSA key; at most 8192 bits');
    });

    it('refuses a DSA key anywhere in the chain', () => {
      const dir = tempDir();
      const { privateKey } = generateKeyPairSync('dsa', { modulusLength: 1024, divisorLength: 160 });
      writeFileSync(join(dir, 'dsa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
      writeFileSync(join(dir, 'min.cnf'), '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n');
      const args = ['req', '-config', join(dir, 'min.cnf'), '-x509', '-key', join(dir, 'dsa.key'), '-subj', '/CN=dsa.test', '-days', '2'];
      const dsa = execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      expect(reasonOf(() => validateCertificate(rsa.certPem + dsa, rsa.keyPem))).toMatch(
        'certificate 2 (CN=dsa.test) has a DSA key; DSA keys are not supported',
      );
    });
  });

  describe('validateUpload', () => {
    it('gives the event loop back between steps and returns what validateCertificate returns', async () => {
      const chain = opensslChain();
      const pem = chain.leaf.certPem + chain.intermediate.certPem + chain.root.certPem;
      let turns = 0;
      let done = false;
      const spin = () => {
        if (done) return;
        turns++;
        setImmediate(spin);
      };
      setImmediate(spin);
      const valid = await validateUpload(pem, chain.leaf.keyPem);
      done = true;
      // One turn per certificate, per signature check and more; a single synchronous run gives none.
      expect(turns).toBeGreaterThanOrEqual(6);
      const { context: _sliced, ...slicedRest } = valid;
      const { context: _sync, ...syncRest } = validateCertificate(pem, chain.leaf.keyPem);
      expect(slicedRest).toEqual(syncRest);
    });

    it('refuses what validateCertificate refuses, with the same reason', async () => {
      await expect(validateUpload(rsa.certPem, ec.keyPem)).rejects.toThrow('invalid certificate: the key does not match the certificate');
      await expect(validateUpload('-----BEGIN CERTIFICATE-----\n'.repeat(35_000), rsa.keyPem)).rejects.toMatchObject({ code: 'INVALID_CERTIFICATE' });
    });
  });
});
