import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { startSwitchyard, tempDir } from '../helpers/switchyard.js';
import { startBlueGreen, startUpstream } from '../helpers/upstream.js';

async function start(extra: Record<string, unknown> = {}, dir = tempDir()): Promise<Switchyard> {
  return startSwitchyard((await startBlueGreen()).services, extra, dir);
}

const json = { 'content-type': 'application/json' };

describe('admin API (inject)', () => {
  it('switches, returns the generation as ETag, and refuses a stale If-Match with 412 changing nothing', async () => {
    const started = await start();
    const ok = await started.admin.inject({
      method: 'POST',
      url: '/v1/services/web/switch',
      headers: { ...json, 'if-match': '"1"' },
      payload: { to: 'green' },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers.etag).toBe('"2"');
    expect(ok.json().active).toBe('green');
    const stale = await started.admin.inject({
      method: 'POST',
      url: '/v1/services/web/switch',
      headers: { ...json, 'if-match': '"1"' },
      payload: { to: 'blue' },
    });
    expect(stale.statusCode).toBe(412);
    expect(stale.json().error.code).toBe('PRECONDITION_FAILED');
    expect((await started.admin.inject({ url: '/v1/services/web' })).json().active).toBe('green');
  });

  it.each([
    [{ weights: { blue: -1, green: 1 } }],
    [{ weights: { blue: 0, green: 0 } }],
    [{ weights: { blue: '50', green: 50 } }],
    [{ weights: { blue: 50 }, extra: true }],
    [{}],
  ])('refuses bad weights %j with 400 and changes nothing', async (payload) => {
    const started = await start();
    const reply = await started.admin.inject({ method: 'PUT', url: '/v1/services/web/weights', headers: json, payload });
    expect(reply.statusCode).toBe(400);
    const service = (await started.admin.inject({ url: '/v1/services/web' })).json();
    expect(service.weights).toEqual({ blue: 100, green: 0 });
    expect(service.generation).toBe(1);
  });

  it.each([
    ['malformed JSON', '{"to": "green"'],
    ['a wrong type', '{"to": 42}'],
    ['an unknown field', '{"to": "green", "force": true, "sneaky": 1}'],
    ['an array', '["green"]'],
  ])('refuses a switch with %s with 400 and changes nothing', async (_what, payload) => {
    const started = await start();
    const reply = await started.admin.inject({ method: 'POST', url: '/v1/services/web/switch', headers: json, payload });
    expect(reply.statusCode).toBe(400);
    expect(reply.json().error.code).toBeTypeOf('string');
    const service = (await started.admin.inject({ url: '/v1/services/web' })).json();
    expect(service.active).toBe('blue');
    expect(service.generation).toBe(1);
  });

  it('answers 404 for an unknown service or stack', async () => {
    const started = await start();
    expect((await started.admin.inject({ url: '/v1/services/nope' })).json().error.code).toBe('UNKNOWN_SERVICE');
    const stack = await started.admin.inject({ method: 'POST', url: '/v1/services/web/switch', headers: json, payload: { to: 'purple' } });
    expect(stack.statusCode).toBe(404);
    expect(stack.json().error.code).toBe('UNKNOWN_STACK');
  });

  it('rolls back to the previous weights and records history', async () => {
    const started = await start();
    await started.admin.inject({
      method: 'PUT',
      url: '/v1/services/web/weights',
      headers: json,
      payload: { weights: { blue: 90, green: 10 }, reason: 'canary' },
    });
    const back = await started.admin.inject({ method: 'POST', url: '/v1/services/web/rollback' });
    expect(back.statusCode).toBe(200);
    expect(back.json().weights).toEqual({ blue: 100, green: 0 });
    const history = (await started.admin.inject({ url: '/v1/services/web/history' })).json().history;
    expect(history.map((h: { reason: string }) => h.reason)).toEqual(['canary', 'rollback']);
  });

  it('replaces a stack’s targets at run time and stores them durably', async () => {
    const dir = tempDir();
    const started = await start({}, dir);
    const other = await startUpstream('other green');
    const reply = await started.admin.inject({
      method: 'PUT',
      url: '/v1/services/web/stacks/green/targets',
      headers: json,
      payload: { targets: [other.address] },
    });
    expect(reply.statusCode).toBe(200);
    expect(reply.json().stacks.green.targets[0].address).toBe(other.address);
    const stored = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    expect(stored.services.web.targets.green).toEqual([other.address]);
    const bad = await started.admin.inject({ method: 'PUT', url: '/v1/services/web/stacks/green/targets', headers: json, payload: { targets: ['no port'] } });
    expect(bad.statusCode).toBe(400);
  });

  it('refuses non-JSON mutations (415), huge bodies (413) and foreign Host/Origin (403)', async () => {
    const started = await start();
    const text = await started.admin.inject({
      method: 'POST',
      url: '/v1/services/web/switch',
      headers: { 'content-type': 'text/plain' },
      payload: '{"to":"green"}',
    });
    expect(text.statusCode).toBe(415);
    const form = await started.admin.inject({
      method: 'POST',
      url: '/v1/services/web/switch',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'to=green',
    });
    expect(form.statusCode).toBe(415);
    const huge = await started.admin.inject({
      method: 'POST',
      url: '/v1/services/web/switch',
      headers: json,
      payload: JSON.stringify({ to: 'green', reason: 'x'.repeat(3_000_000) }),
    });
    expect(huge.statusCode).toBe(413);
    const host = await started.admin.inject({ url: '/v1/services', headers: { host: 'evil.example' } });
    expect(host.statusCode).toBe(403);
    const origin = await started.admin.inject({ url: '/v1/services', headers: { host: '127.0.0.1', origin: 'http://evil.example' } });
    expect(origin.statusCode).toBe(403);
    expect((await started.admin.inject({ url: '/v1/services/web' })).json().active).toBe('blue');
  });
});

describe('admin API (over HTTP, with a token)', () => {
  it('requires the bearer token on /v1 but not on /healthz', async () => {
    process.env.SWITCHYARD_TEST_TOKEN = 's3cret';
    const started = await start({ admin: { listen: '127.0.0.1:0', token_env: 'SWITCHYARD_TEST_TOKEN' } });
    expect((await fetch(`${started.adminUrl}/v1/services`)).status).toBe(401);
    expect((await fetch(`${started.adminUrl}/v1/services`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${started.adminUrl}/v1/services`, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
    expect((await fetch(`${started.adminUrl}/healthz`)).status).toBe(200);
    delete process.env.SWITCHYARD_TEST_TOKEN;
  });

  it('answers 403 to a foreign Host or Origin on a real connection and changes nothing', async () => {
    const started = await start();
    const url = new URL(started.adminUrl);
    const post = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          {
            host: url.hostname,
            port: Number(url.port),
            method: 'POST',
            path: '/v1/services/web/switch',
            headers: { 'content-type': 'application/json', ...headers },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify({ to: 'green' }));
      });
    expect(await post({ host: 'attacker.example' })).toBe(403);
    expect(await post({ origin: 'http://attacker.example' })).toBe(403);
    expect(started.controller.service('web').active.name).toBe('blue');
  });
});
