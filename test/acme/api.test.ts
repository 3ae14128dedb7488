import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { runCertCli } from '../helpers/cert-cli.js';
import { tempDir } from '../helpers/switchyard.js';
import { startUpstream } from '../helpers/upstream.js';
import { acmeEvent, requestsOnDisk, startAcmeSwitchyard } from './support.js';
import { freePort } from './pebble.js';

/** A directory nothing listens on: every order fails at once with ECONNREFUSED. */
async function deadDirectory(): Promise<string> {
  return `https://127.0.0.1:${await freePort()}/dir`;
}

async function setup(extra: Record<string, unknown> = {}) {
  const dir = tempDir();
  const upstream = await startUpstream('from upstream');
  const sy = await startAcmeSwitchyard(dir, 0, upstream.address, { acme: { directory: await deadDirectory() }, ...extra });
  return { dir, sy };
}

async function call(app: Switchyard, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${app.adminUrl}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** What the API and the disk hold, to show a refused call changed nothing. */
async function everything(app: Switchyard, dir: string): Promise<unknown> {
  return {
    certificates: (await call(app, 'GET', '/v1/certificates')).json,
    acme: (await call(app, 'GET', '/v1/certificates/acme')).json,
    requests: requestsOnDisk(dir),
    files: readdirSync(join(dir, 'certs')).sort(),
  };
}

describe('POST /v1/certificates/acme', () => {
  it('refuses bad input with 400 and changes nothing', async () => {
    const { dir, sy } = await setup();
    await call(sy.app, 'POST', '/v1/certificates/self-signed', { name: 'taken', hosts: ['taken.example.com'] });
    const before = await everything(sy.app, dir);
    const cases: [unknown, RegExp][] = [
      [{ name: 'web', hosts: [] }, /at least one host/],
      [{ name: 'web' }, /hosts/],
      [{ name: 'web', hosts: ['*.example.com'] }, /wildcard names need the dns-01 challenge/],
      [{ name: 'web', hosts: ['a.example.com', '*.a.example.com'] }, /wildcard/],
      [{ name: 'web', hosts: ['192.0.2.1'] }, /IP addresses/],
      [{ name: 'web', hosts: ['localhost'] }, /not a fully qualified host name/],
      [{ name: 'web', hosts: ['a b.example.com'] }, /not a fully qualified host name/],
      [{ name: '../etc', hosts: ['a.example.com'] }, /name/],
      [{ name: 'web', hosts: ['a.example.com'], extra: 1 }, /additional/],
    ];
    for (const [body, message] of cases) {
      const { status, json } = await call(sy.app, 'POST', '/v1/certificates/acme', body);
      expect(status, JSON.stringify(body)).toBe(400);
      expect((json.error as { code: string; message: string }).code).toBe('INVALID_BODY');
      expect((json.error as { message: string }).message).toMatch(message);
    }
    expect(await everything(sy.app, dir)).toEqual(before);
    expect(sy.events.filter((e) => e.type === 'acme')).toEqual([]);
  });

  it('refuses a name already taken, by a certificate or by an ACME order (409), and changes nothing', async () => {
    const { dir, sy } = await setup();
    await call(sy.app, 'POST', '/v1/certificates/self-signed', { name: 'taken', hosts: ['taken.example.com'] });
    expect((await call(sy.app, 'POST', '/v1/certificates/acme', { name: 'pending', hosts: ['p.example.com'] })).status).toBe(202);
    await acmeEvent(sy, 'failed', 'pending');
    const before = await everything(sy.app, dir);
    for (const name of ['taken', 'pending']) {
      const { status, json } = await call(sy.app, 'POST', '/v1/certificates/acme', { name, hosts: ['other.example.com'] });
      expect(status).toBe(409);
      expect(json.error).toMatchObject({ code: 'CERTIFICATE_EXISTS' });
    }
    expect(await everything(sy.app, dir)).toEqual(before);
  });

  it('answers 409 ACME_NOT_CONFIGURED without an acme section', async () => {
    const upstream = await startUpstream('x');
    const sy = await startAcmeSwitchyard(tempDir(), 0, upstream.address, {});
    const { status, json } = await call(sy.app, 'POST', '/v1/certificates/acme', { name: 'web', hosts: ['a.example.com'] });
    expect(status).toBe(409);
    expect(json.error).toMatchObject({ code: 'ACME_NOT_CONFIGURED' });
  });

  it('a failing order keeps retrying with backoff and says why; DELETE cancels it', async () => {
    const { dir, sy } = await setup();
    const accepted = await call(sy.app, 'POST', '/v1/certificates/acme', { name: 'web', hosts: ['a.example.com'] });
    expect(accepted.status).toBe(202);
    const failed = await acmeEvent(sy, 'failed', 'web');
    expect(failed.error).toMatch(/ECONNREFUSED/);
    expect(Date.parse(String(failed.retry_at)) - Date.parse(failed.time)).toBeGreaterThanOrEqual(59_000);
    expect((await call(sy.app, 'GET', '/v1/certificates/acme')).json).toEqual({
      certificates: [
        { name: 'web', hosts: ['a.example.com'], origin: 'api', state: 'failing', next_renewal: failed.retry_at, last_error: failed.error, failures: 1 },
      ],
    });
    expect(sy.logs.some((l) => l.level === 50 && l.msg === 'ACME order failed' && l.certificate === 'web')).toBe(true);
    expect((await call(sy.app, 'DELETE', '/v1/certificates/web')).json).toEqual({ deleted: 'web' });
    expect((await call(sy.app, 'GET', '/v1/certificates/acme')).json).toEqual({ certificates: [] });
    expect(requestsOnDisk(dir)).toEqual({ certificates: [] });
  });

  it('a certificate declared in config cannot be deleted or replaced through the API (409)', async () => {
    const { sy } = await setup({ certificates: [{ name: 'web', hosts: ['a.example.com'], acme: true }] });
    await acmeEvent(sy, 'failed', 'web');
    expect((await call(sy.app, 'DELETE', '/v1/certificates/web')).json.error).toMatchObject({ code: 'CERTIFICATE_IN_USE' });
    const upload = await call(sy.app, 'POST', '/v1/certificates/self-signed', { name: 'web', hosts: ['a.example.com'] });
    expect(upload.status).toBe(409);
    expect((await call(sy.app, 'GET', '/v1/certificates')).json).toEqual({ certificates: [] });
  });
});

describe('ACME across a config reload', () => {
  it('orders a certificate a reload declares, and stops renewing one a reload removes', async () => {
    const { sy } = await setup();
    const config = sy.app.controller.currentConfig;
    await sy.app.reload(validateConfig({ ...config, certificates: [{ name: 'web', hosts: ['a.example.com'], acme: true }] }));
    await acmeEvent(sy, 'failed', 'web');
    expect((await call(sy.app, 'GET', '/v1/certificates/acme')).json.certificates).toEqual([expect.objectContaining({ name: 'web', origin: 'config' })]);
    await sy.app.reload(validateConfig({ ...config, certificates: [] }));
    expect((await call(sy.app, 'GET', '/v1/certificates/acme')).json).toEqual({ certificates: [] });
  });
});

describe('switchyard cert acme', () => {
  const run = runCertCli;

  it('orders through the API and prints what happens next; bad input exits non-zero', async () => {
    const { sy } = await setup();
    const ok = await run(sy.app.adminUrl, 'cert', 'acme', 'web', '--host', 'a.example.com', '--host', 'www.a.example.com');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('ACME order accepted for "web" (a.example.com, www.a.example.com)');
    expect((await run(sy.app.adminUrl, 'cert', 'acme', 'x')).code).toBe(2);
    const wild = await run(sy.app.adminUrl, 'cert', 'acme', 'w', '--host', '*.example.com');
    expect(wild.code).toBe(1);
    expect(wild.stderr).toMatch(/INVALID_BODY: "\*\.example\.com": wildcard names need the dns-01 challenge/);
  });
});
