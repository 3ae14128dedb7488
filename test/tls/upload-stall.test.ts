import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { MAX_CERTIFICATE_PEM, MAX_CHAIN } from '../../src/tls/validate.js';
import { startSwitchyard } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { opensslCert, removeTempDirs, type Pem } from './fixtures.js';

/**
 * Generous, for a loaded machine (the delay counts time the process waits for a core): the
 * quadratic PEM scan held the loop for seconds, a sliced validation holds it for milliseconds.
 */
const MAX_LOOP_DELAY_MS = 500;

describe('certificate upload and the data path (issue 11)', () => {
  let app: Switchyard | undefined;
  let upstream: Upstream;

  beforeAll(async () => {
    upstream = await startUpstream('blue');
  });
  afterEach(async () => {
    await app?.stop(0);
    app = undefined;
  });
  afterAll(async () => {
    await upstream.close();
    removeTempDirs();
  });

  /**
   * Posts `body` to /v1/certificates while proxied requests run one after another; returns
   * the upload's answer, the proxied answers and the longest event-loop delay seen.
   */
  async function uploadWhileProxying(started: Switchyard, body: unknown) {
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    let uploading = true;
    const upload = fetch(`${started.adminUrl}/v1/certificates`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (response) => {
      const answer = { status: response.status, json: (await response.json()) as { error?: { code: string; message: string } } };
      uploading = false;
      return answer;
    });
    const proxied: string[] = [];
    do {
      const response = await fetch(`http://127.0.0.1:${started.port('http')}/`);
      proxied.push(`${response.status} ${await response.text()}`);
    } while (uploading);
    const answer = await upload;
    delay.disable();
    return { answer, proxied, maxDelayMs: delay.max / 1e6 };
  }

  it('answers 400 at once to 35,000 BEGIN lines (1 MB) while proxied requests keep being served, and installs nothing', async () => {
    app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [upstream.address] } } }]);
    const key = opensslCert({ key: 'ec' }).keyPem;
    const before = app.certificates.list();
    const { answer, proxied, maxDelayMs } = await uploadWhileProxying(app, { name: 'nasty', cert: '-----BEGIN CERTIFICATE-----\n'.repeat(35_000), key });
    expect(answer.status).toBe(400);
    expect(answer.json.error?.code).toBe('INVALID_CERTIFICATE');
    expect(answer.json.error?.message).toMatch(/PEM block 1 \(CERTIFICATE\) has no "-----END CERTIFICATE-----" line/);
    expect(proxied.length).toBeGreaterThan(0);
    expect(new Set(proxied)).toEqual(new Set(['200 blue']));
    expect(maxDelayMs).toBeLessThan(MAX_LOOP_DELAY_MS);
    expect(app.certificates.list()).toEqual(before);
  });

  it(`installs the largest chain accepted (${MAX_CHAIN} certificates near ${MAX_CERTIFICATE_PEM} characters each) without holding the loop`, async () => {
    app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [upstream.address] } } }]);
    const hosts = (prefix: string) => Array.from({ length: 1600 }, (_, i) => `${prefix}${String(i).padStart(6, '0')}.nasty-example.test`);
    let issuer: Pem = opensslCert({ cn: `ca${MAX_CHAIN}`, ca: true, hosts: hosts('c') });
    const chain = [issuer];
    for (let i = MAX_CHAIN - 1; i >= 2; i--) {
      issuer = opensslCert({ cn: `ca${i}`, ca: true, hosts: hosts('c'), issuer });
      chain.unshift(issuer);
    }
    const leaf = opensslCert({ key: 'ec', hosts: hosts('h'), issuer });
    chain.unshift(leaf);
    expect(chain.every((pem) => pem.certPem.length > MAX_CERTIFICATE_PEM * 0.8 && pem.certPem.length <= MAX_CERTIFICATE_PEM)).toBe(true);

    const { answer, proxied, maxDelayMs } = await uploadWhileProxying(app, { name: 'big', cert: chain.map((pem) => pem.certPem).join(''), key: leaf.keyPem });
    expect(answer.status).toBe(201);
    expect(new Set(proxied)).toEqual(new Set(['200 blue']));
    expect(maxDelayMs).toBeLessThan(MAX_LOOP_DELAY_MS);
    expect(app.certificates.get('big')?.hosts).toHaveLength(1600);
  });
});
