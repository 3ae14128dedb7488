import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateTable, deferredContext, type TableEntry } from '../../src/tls/certificate-table.js';
import { validateCertificate } from '../../src/tls/validate.js';
import { captureLogger, opensslCert, removeTempDirs, type Pem } from './fixtures.js';

/** An entry as the store loads it from disk: validated, its context left for the first handshake. */
function entryOf(name: string, pem: Pem): TableEntry {
  return { ...validateCertificate(pem.certPem, pem.keyPem, { fromDisk: true }), name, contextError: undefined, source: 'uploaded' };
}

describe('CertificateTable', () => {
  let a: Pem;
  let b: Pem;

  beforeAll(() => {
    a = opensslCert({ hosts: ['a.test', '*.shared.test'] });
    b = opensslCert({ hosts: ['b.test', '*.shared.test'] });
  });
  afterAll(removeTempDirs);

  describe('#put', () => {
    it('serves the newest claimant of a host, and the earlier one again once the newest is removed', () => {
      const table = new CertificateTable(captureLogger().log);
      const first = entryOf('first', a);
      const second = entryOf('second', b);
      table.put(first);
      table.put(second);
      const newest = table.contextFor('x.shared.test', undefined);
      expect(newest).toBeDefined();
      expect(newest).toBe(second.context);
      table.remove(second);
      const earlier = table.contextFor('x.shared.test', undefined);
      expect(earlier).toBeDefined();
      expect(earlier).toBe(first.context);
      expect(table.list().map((i) => i.name)).toEqual(['first']);
    });

    it('replaces the entry of the same name, hosts included, and forgets its load error', () => {
      const table = new CertificateTable(captureLogger().log);
      table.failed('site', 'missing key file site.key');
      table.put(entryOf('site', a));
      table.put(entryOf('site', b));
      expect(table.size).toBe(1);
      expect(table.loadError('site')).toBeUndefined();
      expect(table.contextFor('a.test', undefined)).toBeUndefined();
      expect(table.contextFor('b.test', undefined)).toBeDefined();
      expect(table.info('site')?.hosts).toEqual(['b.test', '*.shared.test']);
    });
  });

  describe('#contextFor', () => {
    it('falls back to the default certificate, and to nothing without one', () => {
      const table = new CertificateTable(captureLogger().log);
      const site = entryOf('site', a);
      table.put(site);
      expect(table.contextFor('other.test', 'site')).toBeDefined();
      expect(table.contextFor('other.test', 'site')).toBe(site.context);
      expect(table.contextFor(undefined, 'site')).toBe(site.context);
      expect(table.contextFor('other.test', undefined)).toBeUndefined();
      expect(table.contextFor('other.test', 'missing')).toBeUndefined();
    });
  });
});

describe('deferredContext', () => {
  let pem: Pem;
  let other: Pem;

  beforeAll(() => {
    pem = opensslCert({ hosts: ['lazy.test'] });
    other = opensslCert({ hosts: ['other.test'] });
  });
  afterAll(removeTempDirs);

  it('builds the context at the first call and returns the same one after', () => {
    const entry = { name: 'lazy', context: undefined, contextError: undefined };
    const first = deferredContext(entry, pem.certPem, pem.keyPem, captureLogger().log);
    expect(first).toBeDefined();
    expect(deferredContext(entry, pem.certPem, pem.keyPem, captureLogger().log)).toBe(first);
  });

  it('logs a pair that cannot be built once, and serves nothing for it', () => {
    const { log, lines } = captureLogger();
    const entry = { name: 'broken', context: undefined, contextError: undefined };
    expect(deferredContext(entry, pem.certPem, other.keyPem, log)).toBeUndefined();
    expect(deferredContext(entry, pem.certPem, other.keyPem, log)).toBeUndefined();
    const errors = lines.filter((l) => l.msg === 'certificate cannot be served');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.certificate).toBe('broken');
    expect(entry.contextError).toBeTypeOf('string');
  });
});
