import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateStore } from '../../src/tls/store.js';
import { captureLogger, opensslCert, removeTempDirs, tempDir, type Pem } from './fixtures.js';

const log = pino({ level: 'silent' });

describe('CertificateStore sources', () => {
  let ec: Pem;
  beforeAll(() => {
    ec = opensslCert({ key: 'ec', hosts: ['ec.test'] });
  });
  afterAll(removeTempDirs);

  it('records self-signed and acme beside the files, and a restart reads them back', async () => {
    const dir = tempDir();
    const store = await CertificateStore.open(dir, log);
    await store.addSelfSigned('gen', ['gen.test']);
    await store.add('auto', ec.certPem, ec.keyPem, 'acme');
    await store.add('up', ec.certPem, ec.keyPem);
    expect(store.list().map((c) => [c.name, c.source])).toEqual([
      ['auto', 'acme'],
      ['gen', 'self-signed'],
      ['up', 'uploaded'],
    ]);
    expect(JSON.parse(readFileSync(join(dir, 'auto.meta.json'), 'utf8'))).toEqual({ source: 'acme' });
    // Uploads write no record: a directory of uploads loads as fast as before.
    expect(existsSync(join(dir, 'up.meta.json'))).toBe(false);
    const reopened = await CertificateStore.open(dir, log);
    expect(reopened.list().map((c) => [c.name, c.source])).toEqual([
      ['auto', 'acme'],
      ['gen', 'self-signed'],
      ['up', 'uploaded'],
    ]);
  });

  it('an upload over an acme certificate makes it uploaded; a delete removes the record', async () => {
    const dir = tempDir();
    const store = await CertificateStore.open(dir, log);
    await store.add('auto', ec.certPem, ec.keyPem, 'acme');
    await store.add('auto', ec.certPem, ec.keyPem);
    expect(store.source('auto')).toBe('uploaded');
    expect(existsSync(join(dir, 'auto.meta.json'))).toBe(false);
    await store.add('gone', ec.certPem, ec.keyPem, 'acme');
    await store.delete('gone');
    expect(existsSync(join(dir, 'gone.meta.json'))).toBe(false);
    expect((await CertificateStore.open(dir, log)).source('auto')).toBe('uploaded');
  });

  it('a record it cannot read is logged and the certificate counts as uploaded', async () => {
    const dir = tempDir();
    const store = await CertificateStore.open(dir, log);
    await store.add('auto', ec.certPem, ec.keyPem, 'acme');
    writeFileSync(join(dir, 'auto.meta.json'), '{"source":"magic"}');
    const { log: capture, lines } = captureLogger();
    expect((await CertificateStore.open(dir, capture)).source('auto')).toBe('uploaded');
    expect(lines.some((l) => l.level === 40 && /unknown source/.test(l.msg))).toBe(true);
  });
});
