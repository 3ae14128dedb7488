import { X509Certificate } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SwitchyardError } from '../../src/errors.js';
import { generateSelfSigned, LOCALHOST_NAMES } from '../../src/tls/self-signed.js';
import { CertificateStore, ensureSelfSigned } from '../../src/tls/store.js';
import { captureLogger, fingerprintOf, opensslCert, removeTempDirs, tempDir, type Pem } from './fixtures.js';

const DAY = 86_400_000;
const silent = pino({ level: 'silent' });

async function rejection(promise: Promise<unknown>): Promise<SwitchyardError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(SwitchyardError);
    return err as SwitchyardError;
  }
  throw new Error('expected a SwitchyardError');
}

/** Everything observable about a store and its directory. */
function snapshot(store: CertificateStore, dir: string, servername: string) {
  return {
    list: store.list(),
    files: Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')])),
    context: store.contextFor(servername, undefined),
  };
}

describe('CertificateStore', () => {
  let rsa: Pem;
  let ec: Pem;
  let dir: string;
  let store: CertificateStore;

  beforeAll(() => {
    rsa = opensslCert({ key: 'rsa', hosts: ['rsa.test', '*.rsa.test'] });
    ec = opensslCert({ key: 'ec', hosts: ['ec.test'] });
  });
  afterAll(removeTempDirs);
  beforeEach(async () => {
    dir = join(tempDir(), 'certs');
    store = await CertificateStore.open(dir, silent);
  });

  describe('.open', () => {
    it('creates the directory, readable by the owner only', () => {
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(store.list()).toEqual([]);
    });

    it('loads what an earlier store wrote (a restart)', async () => {
      await store.add('rsa', rsa.certPem, rsa.keyPem);
      await store.add('ec', ec.certPem, ec.keyPem);
      const reopened = await CertificateStore.open(dir, silent);
      expect(reopened.list()).toEqual(store.list());
      expect(reopened.contextFor('www.rsa.test', undefined)).toBeDefined();
      expect(reopened.contextFor('ec.test', undefined)).toBeDefined();
    });

    it('keeps the newest file winning for a host claimed twice', async () => {
      const older = opensslCert({ hosts: ['shared.test', 'older.test'] });
      const newer = opensslCert({ hosts: ['shared.test', 'newer.test'] });
      // Names sort the other way round, so only the file times can make "aa-newer" win.
      await store.add('zz-older', older.certPem, older.keyPem);
      await store.add('aa-newer', newer.certPem, newer.keyPem);
      const hourAgo = new Date(Date.now() - 3_600_000);
      utimesSync(join(dir, 'zz-older.crt'), hourAgo, hourAgo);
      const reopened = await CertificateStore.open(dir, silent);
      expect(reopened.contextFor('shared.test', undefined)).toBe(reopened.contextFor('newer.test', undefined));
      await reopened.delete('aa-newer');
      expect(reopened.contextFor('shared.test', undefined)).toBe(reopened.contextFor('older.test', undefined));
    });

    it('records files that cannot be loaded and loads the rest', async () => {
      await store.add('good', ec.certPem, ec.keyPem);
      writeFileSync(join(dir, 'garbage.crt'), 'not a certificate');
      writeFileSync(join(dir, 'garbage.key'), 'not a key');
      writeFileSync(join(dir, 'keyless.crt'), rsa.certPem);
      writeFileSync(join(dir, 'mismatch.crt'), rsa.certPem);
      writeFileSync(join(dir, 'mismatch.key'), ec.keyPem, { mode: 0o600 });
      writeFileSync(join(dir, '..hidden.crt'), rsa.certPem);
      const { log, lines } = captureLogger();
      const reopened = await CertificateStore.open(dir, log);
      expect(reopened.list().map((c) => c.name)).toEqual(['good']);
      expect(reopened.loadError('garbage')).toMatch(/no PEM certificate/);
      expect(reopened.loadError('keyless')).toMatch(/missing key file keyless.key/);
      expect(reopened.loadError('mismatch')).toMatch(/the key does not match/);
      expect(lines.filter((l) => l.level === 50).map((l) => l.certificate)).toEqual(expect.arrayContaining(['garbage', 'keyless', 'mismatch']));
      expect(lines.some((l) => l.level === 40 && l.file === '..hidden.crt')).toBe(true);
    });

    it('loads an expired certificate, logging an error, and warns about one expiring soon', async () => {
      const expired = await generateSelfSigned(['old.test'], { now: new Date(Date.now() - 40 * DAY), days: 30 });
      writeFileSync(join(dir, 'old.crt'), expired.certPem);
      writeFileSync(join(dir, 'old.key'), expired.keyPem, { mode: 0o600 });
      await store.addSelfSigned('soon', ['soon.test'], 10);
      const { log, lines } = captureLogger();
      const reopened = await CertificateStore.open(dir, log);
      expect(reopened.get('old')?.expires_soon).toBe(true);
      expect(reopened.get('soon')?.expires_soon).toBe(true);
      expect(lines.find((l) => l.certificate === 'old' && l.level === 50)?.msg).toBe('certificate has expired');
      expect(lines.find((l) => l.certificate === 'soon' && l.level === 40)?.msg).toBe('certificate expires within 14 days');
    });

    it('warns about a key file others can read', async () => {
      await store.add('ec', ec.certPem, ec.keyPem);
      chmodSync(join(dir, 'ec.key'), 0o644);
      const { log, lines } = captureLogger();
      await CertificateStore.open(dir, log);
      expect(lines.some((l) => l.level === 40 && l.certificate === 'ec' && /readable by group or others/.test(l.msg))).toBe(true);
    });
  });

  describe('#add', () => {
    it('installs RSA and ECDSA certificates and lists them without key material', async () => {
      const first = await store.add('rsa', rsa.certPem, rsa.keyPem);
      expect(first.replaced).toBe(false);
      expect(first.info).toEqual({
        name: 'rsa',
        hosts: ['rsa.test', '*.rsa.test'],
        not_before: new Date(new X509Certificate(rsa.certPem).validFrom).toISOString(),
        not_after: new Date(new X509Certificate(rsa.certPem).validTo).toISOString(),
        fingerprint256: fingerprintOf(rsa.certPem),
        expires_soon: false,
        source: 'uploaded',
      });
      await store.add('ec', ec.certPem, ec.keyPem);
      expect(store.list().map((c) => c.name)).toEqual(['ec', 'rsa']);
      expect(JSON.stringify(store.list())).not.toMatch(/PRIVATE KEY|BEGIN/);
      expect(store.has('ec')).toBe(true);
      expect(store.contextFor('ec.test', undefined)).toBeDefined();
    });

    it('writes the key with mode 0600 and the chain with 0644', async () => {
      await store.add('rsa', rsa.certPem, rsa.keyPem);
      expect(statSync(join(dir, 'rsa.key')).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, 'rsa.crt')).mode & 0o777).toBe(0o644);
      expect(readFileSync(join(dir, 'rsa.key'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
      // Only the pair: no temp files left behind.
      expect(readdirSync(dir).sort()).toEqual(['rsa.crt', 'rsa.key']);
    });

    it('replaces a certificate of the same name, on disk and for new handshakes', async () => {
      await store.add('site', rsa.certPem, rsa.keyPem);
      const before = store.contextFor('rsa.test', undefined);
      const next = opensslCert({ key: 'ec', hosts: ['rsa.test'] });
      const { replaced, info } = await store.add('site', next.certPem, next.keyPem);
      expect(replaced).toBe(true);
      expect(info.fingerprint256).toBe(fingerprintOf(next.certPem));
      expect(store.contextFor('rsa.test', undefined)).not.toBe(before);
      // The old certificate's other names are gone with it.
      expect(store.contextFor('www.rsa.test', undefined)).toBeUndefined();
      expect(fingerprintOf(readFileSync(join(dir, 'site.crt'), 'utf8'))).toBe(fingerprintOf(next.certPem));
      expect(statSync(join(dir, 'site.key')).mode & 0o777).toBe(0o600);
    });

    it('changes nothing when validation fails (mismatched key, garbage, expired, chain out of order)', async () => {
      await store.add('site', rsa.certPem, rsa.keyPem);
      const before = snapshot(store, dir, 'rsa.test');
      const expired = await generateSelfSigned(['rsa.test'], { now: new Date(Date.now() - 40 * DAY), days: 30 });
      const root = opensslCert({ cn: 'Root', ca: true });
      const leaf = opensslCert({ hosts: ['rsa.test'], issuer: root });
      const attempts: [string, string, RegExp][] = [
        [rsa.certPem, ec.keyPem, /the key does not match/],
        ['garbage', rsa.keyPem, /no PEM certificate/],
        [rsa.certPem, 'garbage', /the key does not parse/],
        [expired.certPem, expired.keyPem, /expired on/],
        [root.certPem + leaf.certPem, leaf.keyPem, /does not match|did not issue/],
      ];
      for (const [cert, key, reason] of attempts) {
        for (const name of ['site', 'fresh']) {
          const error = await rejection(store.add(name, cert, key));
          expect(error.code).toBe('INVALID_CERTIFICATE');
          expect(error.status).toBe(400);
          expect(error.message).toMatch(reason);
          expect(snapshot(store, dir, 'rsa.test')).toEqual(before);
          expect(store.contextFor('rsa.test', undefined)).toBe(before.context);
        }
      }
    });

    it('refuses names that are not plain file names', async () => {
      for (const name of ['../evil', '..', '.hidden', 'a/b', 'a\\b', '', 'x'.repeat(129), 'sp ace']) {
        const error = await rejection(store.add(name, rsa.certPem, rsa.keyPem));
        expect(error.code, name).toBe('INVALID_BODY');
      }
      expect(readdirSync(dir)).toEqual([]);
      expect(readdirSync(join(dir, '..')).sort()).toEqual(['certs']);
    });

    it('runs concurrent changes of one name one after the other, leaving a matching pair on disk', async () => {
      const a = opensslCert({ key: 'rsa', hosts: ['race.test'] });
      const b = opensslCert({ key: 'ec', hosts: ['race.test'] });
      const results = await Promise.all([store.add('race', a.certPem, a.keyPem), store.add('race', b.certPem, b.keyPem)]);
      expect(results.map((r) => r.replaced)).toEqual([false, true]);
      const reopened = await CertificateStore.open(dir, silent);
      expect(reopened.loadError('race')).toBeUndefined();
      expect(reopened.get('race')?.fingerprint256).toBe(fingerprintOf(b.certPem));
    });

    it('flags and warns about a certificate expiring within 14 days', async () => {
      const { log, lines } = captureLogger();
      const logged = await CertificateStore.open(join(tempDir(), 'certs'), log);
      const soon = await generateSelfSigned(['soon.test'], { days: 13 });
      const { info } = await logged.add('soon', soon.certPem, soon.keyPem);
      expect(info.expires_soon).toBe(true);
      expect(lines.some((l) => l.level === 40 && l.certificate === 'soon')).toBe(true);
      const later = await generateSelfSigned(['later.test'], { days: 15 });
      expect((await logged.add('later', later.certPem, later.keyPem)).info.expires_soon).toBe(false);
    });

    it('tells subscribers about each change', async () => {
      const seen: string[] = [];
      const unsubscribe = store.subscribe((name) => seen.push(name));
      await store.add('ec', ec.certPem, ec.keyPem);
      await store.delete('ec');
      unsubscribe();
      await store.add('rsa', rsa.certPem, rsa.keyPem);
      expect(seen).toEqual(['ec', 'ec']);
    });
  });

  describe('#addSelfSigned', () => {
    it('generates, installs and persists a certificate for the hosts', async () => {
      const { info, replaced } = await store.addSelfSigned('local', ['localhost', '127.0.0.1'], 30);
      expect(replaced).toBe(false);
      expect(info.hosts).toEqual(['localhost']);
      expect(new Date(info.not_after).getTime() - Date.now()).toBeLessThanOrEqual(30 * DAY);
      expect(store.contextFor('localhost', undefined)).toBeDefined();
      expect(fingerprintOf(readFileSync(join(dir, 'local.crt'), 'utf8'))).toBe(info.fingerprint256);
      expect(statSync(join(dir, 'local.key')).mode & 0o777).toBe(0o600);
    });

    it('refuses bad hosts and names with 400 INVALID_BODY', async () => {
      expect((await rejection(store.addSelfSigned('x', ['not a host']))).code).toBe('INVALID_BODY');
      expect((await rejection(store.addSelfSigned('../x', ['a.test']))).code).toBe('INVALID_BODY');
      expect(store.list()).toEqual([]);
    });
  });

  describe('#delete', () => {
    it('removes the certificate, its files and its hosts', async () => {
      await store.add('rsa', rsa.certPem, rsa.keyPem);
      await store.delete('rsa');
      expect(store.has('rsa')).toBe(false);
      expect(store.contextFor('rsa.test', undefined)).toBeUndefined();
      expect(readdirSync(dir)).toEqual([]);
    });

    it('answers 404 UNKNOWN_CERTIFICATE for a name it does not hold', async () => {
      const error = await rejection(store.delete('nope'));
      expect(error.code).toBe('UNKNOWN_CERTIFICATE');
      expect(error.status).toBe(404);
      expect((await rejection(store.delete('../certs'))).code).toBe('UNKNOWN_CERTIFICATE');
    });
  });

  describe('#contextFor', () => {
    it('goes exact host → wildcard → default certificate → undefined', async () => {
      await store.add('rsa', rsa.certPem, rsa.keyPem);
      await store.add('ec', ec.certPem, ec.keyPem);
      const exact = store.contextFor('rsa.test', 'ec');
      expect(exact).toBeDefined();
      expect(store.contextFor('www.rsa.test', 'ec')).toBe(exact);
      expect(store.contextFor('other.test', 'ec')).toBe(store.contextFor('ec.test', undefined));
      expect(store.contextFor(undefined, 'ec')).toBe(store.contextFor('ec.test', undefined));
      expect(store.contextFor('other.test', undefined)).toBeUndefined();
      expect(store.contextFor('other.test', 'missing')).toBeUndefined();
    });

    it('builds the context of a loaded certificate on first use, once', async () => {
      await store.add('ec', ec.certPem, ec.keyPem);
      const reopened = await CertificateStore.open(dir, silent);
      const first = reopened.contextFor('ec.test', undefined);
      expect(first).toBeDefined();
      expect(reopened.contextFor('ec.test', undefined)).toBe(first);
    });
  });
});

describe('ensureSelfSigned', () => {
  afterAll(removeTempDirs);

  it('generates the missing default certificate for localhost, once', async () => {
    const dir = tempDir();
    const store = await CertificateStore.open(dir, silent);
    const info = await ensureSelfSigned(store, 'localhost', LOCALHOST_NAMES);
    expect(info?.hosts).toEqual(['localhost']);
    const san = new X509Certificate(readFileSync(join(dir, 'localhost.crt'), 'utf8')).subjectAltName;
    expect(san).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(await ensureSelfSigned(store, 'localhost', LOCALHOST_NAMES)).toBeUndefined();
    const reopened = await CertificateStore.open(dir, silent);
    expect(await ensureSelfSigned(reopened, 'localhost', LOCALHOST_NAMES)).toBeUndefined();
    expect(reopened.get('localhost')?.fingerprint256).toBe(info?.fingerprint256);
  });

  it('refuses to overwrite files that exist but do not load', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'localhost.crt'), 'broken');
    writeFileSync(join(dir, 'localhost.key'), 'broken');
    const store = await CertificateStore.open(dir, silent);
    await expect(ensureSelfSigned(store, 'localhost', LOCALHOST_NAMES)).rejects.toThrow(
      /cannot be loaded \(invalid certificate: no PEM certificate.*fix or remove/,
    );
    expect(readFileSync(join(dir, 'localhost.crt'), 'utf8')).toBe('broken');
  });
});
