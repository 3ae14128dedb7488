import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SwitchyardError } from '../../src/errors.js';
import { generateSelfSigned, normalizeHosts } from '../../src/tls/self-signed.js';

const DAY = 86_400_000;

/** Largest gap between 5 ms ticks while `work` runs: how long the event loop was blocked. */
async function longestStall(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 5);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return longest;
}

describe('generateSelfSigned', () => {
  it('makes an RSA-2048 certificate with a SAN per host, CN = first host, serverAuth, not a CA', async () => {
    const { certPem, keyPem } = await generateSelfSigned(['Demo.Example', '*.demo.example', '127.0.0.1', '::1']);
    const cert = new X509Certificate(certPem);
    expect(cert.subjectAltName).toBe('DNS:demo.example, DNS:*.demo.example, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(cert.subject).toBe('CN=demo.example');
    expect(cert.issuer).toBe(cert.subject);
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(cert.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('is valid from an hour ago for 365 days unless told otherwise', async () => {
    const before = Date.now();
    const cert = new X509Certificate((await generateSelfSigned(['a.test'])).certPem);
    const notBefore = new Date(cert.validFrom).getTime();
    const notAfter = new Date(cert.validTo).getTime();
    expect(notBefore).toBeLessThanOrEqual(before - 3_599_000);
    expect(notAfter - before).toBeGreaterThan(364 * DAY);
    expect(notAfter - before).toBeLessThanOrEqual(365 * DAY + 1000);
    const short = new X509Certificate((await generateSelfSigned(['a.test'], { days: 10 })).certPem);
    expect(new Date(short.validTo).getTime() - before).toBeLessThanOrEqual(10 * DAY + 1000);
  });

  it('draws a random serial each time', async () => {
    const [a, b] = await Promise.all([generateSelfSigned(['a.test']), generateSelfSigned(['a.test'])]);
    expect(new X509Certificate(a.certPem).serialNumber).not.toBe(new X509Certificate(b.certPem).serialNumber);
  });

  it('does not block the event loop while generating', async () => {
    // forge's pure-JS RSA key generation would stall the loop for about a second.
    const stall = await longestStall(() => Promise.all([generateSelfSigned(['a.test']), generateSelfSigned(['b.test'])]));
    // Loose (a loaded box stalls too): two synchronous key generations would stall it for seconds.
    expect(stall).toBeLessThan(500);
  });

  it('refuses out-of-range days', async () => {
    await expect(generateSelfSigned(['a.test'], { days: 0 })).rejects.toThrow(/days must be an integer/);
    await expect(generateSelfSigned(['a.test'], { days: 1.5 })).rejects.toThrow(/days must be an integer/);
    await expect(generateSelfSigned(['a.test'], { days: 3651 })).rejects.toThrow(/days must be an integer/);
  });
});

describe('normalizeHosts', () => {
  it('lower-cases DNS names, keeps IP literals, drops duplicates', () => {
    expect(normalizeHosts(['A.test', 'a.test', '*.B.test', '10.0.0.1', 'fe80::1'])).toEqual(['a.test', '*.b.test', '10.0.0.1', 'fe80::1']);
  });

  it('refuses what is neither a host name nor an IP address, with a 400 INVALID_BODY', () => {
    for (const bad of ['', 'a b', 'a..b', '-a.test', 'a.*.test', 'a/b', '*']) {
      let error: unknown;
      try {
        normalizeHosts([bad]);
      } catch (err) {
        error = err;
      }
      expect(error, bad).toBeInstanceOf(SwitchyardError);
      expect((error as SwitchyardError).code).toBe('INVALID_BODY');
    }
    expect(() => normalizeHosts([])).toThrow(/at least one host/);
    expect(() => normalizeHosts(Array.from({ length: 101 }, (_, i) => `h${i}.test`))).toThrow(/at most 100/);
  });
});
