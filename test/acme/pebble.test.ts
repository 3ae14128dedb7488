import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { tempDir } from '../helpers/switchyard.js';
import { freePort, type Pebble, pebbleInstalled, startPebble } from './pebble.js';
import { acmeEvent, handshake, requestsOnDisk, startAcmeSwitchyard } from './support.js';

const installed = pebbleInstalled();
const INSTALL = 'Debian package pebble is missing: apt-get install -y pebble';

if (!installed && process.env.CI !== 'true') console.warn(`skipping the ACME tests against Pebble: ${INSTALL}`);
if (!installed && process.env.CI === 'true') {
  // CI installs pebble (.ci/run): without it these tests would pass by skipping.
  describe('ACME against Pebble', () => {
    it('needs pebble installed', () => {
      throw new Error(`${INSTALL} (CI=true: not skipping)`);
    });
  });
}

describe.skipIf(!installed)('ACME against Pebble', () => {
  let pebble: Pebble;
  let root: string;
  let httpPort: number;
  let upstream: Upstream;

  beforeAll(async () => {
    httpPort = await freePort();
    pebble = await startPebble(httpPort);
    root = await pebble.root();
    upstream = await startUpstream('from upstream');
  });
  afterAll(async () => {
    await pebble?.stop();
    await upstream?.close();
  });

  const acmeSettings = (p: Pebble, more: Record<string, unknown> = {}) => ({ directory: p.directory, ca_file: p.caFile, email: 'ops@example.com', ...more });

  it('issues a certificate declared in config and serves it with Pebble chain on the next handshake', async () => {
    const dir = tempDir();
    const sy = await startAcmeSwitchyard(dir, httpPort, upstream.address, {
      acme: acmeSettings(pebble),
      certificates: [{ name: 'web', hosts: ['a.example.com', 'www.a.example.com'], acme: true }],
    });
    const issued = await acmeEvent(sy, 'issued', 'web');
    const served = await handshake(sy.app.port('https'), 'a.example.com', root);
    expect(served.authorized, served.error).toBe(true);
    expect(served.subjectaltname).toContain('DNS:www.a.example.com');
    // Leaf, then Pebble's intermediate (sent by switchyard), then the root the client trusts.
    expect(served.chain.slice(1).map((cn) => cn.replace(/ [0-9a-f]+$/, ''))).toEqual(['Pebble Intermediate CA', 'Pebble Root CA']);
    // The `certificate` event of every install came with it.
    expect(sy.events.some((e) => e.type === 'certificate' && e.name === 'web' && e.action === 'added' && e.fingerprint256 === issued.fingerprint256)).toBe(
      true,
    );
    // Pebble's validator fetched the tokens from the plain listener, by the names it validated.
    const answered = sy.logs.filter((l) => l.msg === 'ACME http-01 challenge answered').map((l) => l.host);
    expect(new Set(answered)).toEqual(new Set(['a.example.com', 'www.a.example.com']));
    const list = (await (await fetch(`${sy.app.adminUrl}/v1/certificates`)).json()) as { certificates: Record<string, unknown>[] };
    const web = list.certificates.find((c) => c.name === 'web');
    expect(web?.source).toBe('acme');
    // renew_before defaults to 30d: the next renewal is about 30 days (less up to a day of jitter) before expiry.
    const lead = Date.parse(String(web?.not_after)) - Date.parse(String(web?.next_renewal));
    expect(lead).toBeGreaterThanOrEqual(30 * 86_400_000);
    expect(lead).toBeLessThanOrEqual(31 * 86_400_000);
    expect(issued.next_renewal).toBe(web?.next_renewal);
    expect(statSync(join(dir, 'certs', 'web.key')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(dir, 'certs', 'web.meta.json'), 'utf8'))).toEqual({ source: 'acme' });
  });

  it('renews by itself, without a restart, when renew_before covers the whole lifetime', async () => {
    const sy = await startAcmeSwitchyard(tempDir(), httpPort, upstream.address, {
      // Pebble's certificates live five years: 2000 days ahead of expiry is "due now".
      acme: acmeSettings(pebble, { renew_before: '2000d', min_renew_interval: '1s' }),
      certificates: [{ name: 'web', hosts: ['renew.example.com'], acme: true }],
    });
    const issued = await acmeEvent(sy, 'issued', 'web');
    const first = await handshake(sy.app.port('https'), 'renew.example.com', root);
    const renewed = await acmeEvent(sy, 'renewed', 'web');
    expect(renewed.fingerprint256).not.toBe(issued.fingerprint256);
    const second = await handshake(sy.app.port('https'), 'renew.example.com', root);
    expect(second.authorized, second.error).toBe(true);
    expect(second.serial).not.toBe(first.serial);
    // min_renew_interval spaces the orders: never two within a second.
    const orders = sy.events.filter((e) => e.type === 'acme' && e.action === 'ordered').map((e) => Date.parse(e.time));
    for (let i = 1; i < orders.length; i++) expect((orders[i] ?? 0) - (orders[i - 1] ?? 0)).toBeGreaterThanOrEqual(1000);
  });

  it('orders through POST /v1/certificates/acme: 202, then an event when issued; a restart keeps renewing it', async () => {
    const dir = tempDir();
    const sy = await startAcmeSwitchyard(dir, httpPort, upstream.address, { acme: acmeSettings(pebble) });
    const response = await fetch(`${sy.app.adminUrl}/v1/certificates/acme`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'api', hosts: ['B.example.com'] }),
    });
    expect(response.status).toBe(202);
    expect(((await response.json()) as { certificate: Record<string, unknown> }).certificate).toMatchObject({
      name: 'api',
      hosts: ['b.example.com'],
      origin: 'api',
    });
    expect(requestsOnDisk(dir)).toEqual({ certificates: [{ name: 'api', hosts: ['b.example.com'] }] });
    await acmeEvent(sy, 'issued', 'api');
    expect((await handshake(sy.app.port('https'), 'b.example.com', root)).authorized).toBe(true);
    await sy.app.stop(0);

    const again = await startAcmeSwitchyard(dir, httpPort, upstream.address, { acme: acmeSettings(pebble) });
    const status = (await (await fetch(`${again.app.adminUrl}/v1/certificates/acme`)).json()) as { certificates: Record<string, unknown>[] };
    expect(status.certificates).toEqual([
      expect.objectContaining({ name: 'api', origin: 'api', state: 'valid', last_error: null, next_renewal: expect.any(String) }),
    ]);
    // Still valid for years: nothing is ordered at start.
    expect(again.events.filter((e) => e.type === 'acme')).toEqual([]);
  });

  it('keeps the old certificate when the CA is down, and says why in an event with the retry time', async () => {
    // A Pebble of its own, to kill.
    const own = await startPebble(httpPort);
    try {
      const ownRoot = await own.root();
      const sy = await startAcmeSwitchyard(tempDir(), httpPort, upstream.address, {
        acme: acmeSettings(own, { renew_before: '2000d', min_renew_interval: '1s' }),
        certificates: [{ name: 'web', hosts: ['down.example.com'], acme: true }],
      });
      const issued = await acmeEvent(sy, 'issued', 'web');
      await own.kill();
      const mark = sy.events.length;
      const failed = await acmeEvent(sy, 'failed', 'web', mark);
      expect(failed.error).toMatch(/ECONNREFUSED/);
      // The first retry comes a minute later (exponential backoff from there).
      expect(Date.parse(String(failed.retry_at)) - Date.parse(failed.time)).toBeGreaterThanOrEqual(59_000);
      const served = await handshake(sy.app.port('https'), 'down.example.com', ownRoot);
      expect(served.authorized, served.error).toBe(true);
      const list = (await (await fetch(`${sy.app.adminUrl}/v1/certificates`)).json()) as { certificates: Record<string, unknown>[] };
      expect(list.certificates).toEqual([expect.objectContaining({ name: 'web', fingerprint256: issued.fingerprint256, next_renewal: failed.retry_at })]);
      const status = (await (await fetch(`${sy.app.adminUrl}/v1/certificates/acme`)).json()) as { certificates: Record<string, unknown>[] };
      expect(status.certificates).toEqual([expect.objectContaining({ name: 'web', state: 'failing', failures: 1, last_error: failed.error })]);
      expect(sy.logs.some((l) => l.level === 50 && l.msg === 'ACME order failed; the current certificate stays' && l.kept === issued.fingerprint256)).toBe(
        true,
      );
    } finally {
      await own.stop();
    }
  });
});
