import { describe, expect, it } from 'vitest';
import { adminCall } from '../helpers/admin-call.js';
import { get } from '../helpers/http.js';
import { startSwitchyard, tempDir } from '../helpers/switchyard.js';
import { startBlueGreen } from '../helpers/upstream.js';

const overrides = [
  { header: 'x-canary', value: 'always', to: 'standby' },
  { cookie: 'canary', value: 'always', to: 'green' },
];

describe('overrides (SPEC §10)', () => {
  it('routes by header and cookie at weights 100/0: a tester reaches green before any user does', async () => {
    const { services } = await startBlueGreen({ overrides });
    const app = await startSwitchyard(services);
    const port = app.port('http');
    const body = async (headers: Record<string, string>) => (await get(port, { headers })).body;
    expect(await body({})).toBe('blue');
    expect(await body({ 'x-canary': 'always' })).toBe('green');
    expect(await body({ 'X-Canary': 'always' })).toBe('green');
    expect(await body({ 'x-canary': 'ALWAYS' })).toBe('blue');
    expect(await body({ 'x-canary': 'sometimes' })).toBe('blue');
    expect(await body({ cookie: 'canary=always' })).toBe('green');
    expect(await body({ cookie: 'session=1; canary=always' })).toBe('green');
    expect(await body({ cookie: 'xcanary=always' })).toBe('blue');
    expect(await body({ cookie: 'canary=never' })).toBe('blue');
    // `standby` follows the weights: once green is active, the header reaches blue.
    await app.controller.switchTo('web', 'green');
    expect(await body({ 'x-canary': 'always' })).toBe('blue');
    expect(await body({})).toBe('green');
  });

  it('beats the sticky cookie and does not pin the client', async () => {
    const { services } = await startBlueGreen({ overrides, sticky: 'cookie' });
    const app = await startSwitchyard(services);
    await app.controller.setWeights('web', { blue: 50, green: 50 });
    const port = app.port('http');
    for (let i = 0; i < 10; i++) {
      const pinned = await get(port, { headers: { cookie: 'switchyard.web=blue' } });
      expect(pinned.body).toBe('blue');
      const overridden = await get(port, { headers: { cookie: 'switchyard.web=blue; canary=always' } });
      expect(overridden.body).toBe('green');
      expect(overridden.headers['set-cookie']).toBeUndefined();
    }
  });

  it('is replaced at run time with PUT .../overrides, If-Match honoured, stored durably', async () => {
    const { services } = await startBlueGreen({ overrides });
    const dir = tempDir();
    const app = await startSwitchyard(services, {}, dir);
    const port = app.port('http');
    const path = '/v1/services/web/overrides';
    const next = { overrides: [{ header: 'x-beta', value: '1', to: 'green' }] };
    expect((await adminCall(app, 'GET', '/v1/services/web')).body.overrides).toEqual(overrides);

    const stale = await adminCall(app, 'PUT', path, next, { 'if-match': '"7"' });
    expect([stale.status, stale.body.error.code]).toEqual([412, 'PRECONDITION_FAILED']);
    const put = await adminCall(app, 'PUT', path, next, { 'if-match': '"1"' });
    expect(put.status).toBe(200);
    expect(put.etag).toBe('"2"');
    expect(put.body.overrides).toEqual(next.overrides);
    expect((await get(port, { headers: { 'x-beta': '1' } })).body).toBe('green');
    // The run-time list replaces the config's.
    expect((await get(port, { headers: { 'x-canary': 'always' } })).body).toBe('blue');

    await app.stop(0);
    const again = await startSwitchyard(services, {}, dir);
    expect((await get(again.port('http'), { headers: { 'x-beta': '1' } })).body).toBe('green');
    expect((await adminCall(again, 'GET', '/v1/services/web')).body.overrides).toEqual(next.overrides);
  });

  it('refuses bad overrides naming the entry, and changes nothing', async () => {
    const { services } = await startBlueGreen();
    const app = await startSwitchyard(services);
    const path = '/v1/services/web/overrides';
    const cases: [unknown, string, RegExp][] = [
      [{ overrides: [{ header: 'x-a', value: '1', to: 'purple' }] }, 'INVALID_OVERRIDE', /^overrides\[0\]\.to: service "web" has no stack "purple"$/],
      [{ overrides: [{ header: 'x-a', cookie: 'a', value: '1', to: 'green' }] }, 'INVALID_OVERRIDE', /^overrides\[0\]: give either header or cookie$/],
      [{ overrides: [{ header: 'x a', value: '1', to: 'green' }] }, 'INVALID_OVERRIDE', /^overrides\[0\]\.header: must be a header field name$/],
      [{ overrides: [{ header: 'x-a', to: 'green' }] }, 'INVALID_OVERRIDE', /^overrides\[0\]\.value: /],
      [{ overrides: [{ header: 'x-a', value: '1', to: 'green', extra: true }] }, 'INVALID_OVERRIDE', /^overrides\[0\]: /],
      [{}, 'INVALID_BODY', /overrides/],
    ];
    for (const [body, code, message] of cases) {
      const refused = await adminCall(app, 'PUT', path, body);
      expect([refused.status, refused.body.error.code], JSON.stringify(body)).toEqual([400, code]);
      expect(refused.body.error.message).toMatch(message);
    }
    expect((await adminCall(app, 'PUT', '/v1/services/nope/overrides', { overrides: [] })).status).toBe(404);
    expect(app.controller.service('web').state.generation).toBe(1);
    expect(app.controller.service('web').overrides).toBeNull();
  });

  it('refuses an override to an unknown stack in the config, by its path', async () => {
    const { services } = await startBlueGreen({ overrides: [{ header: 'x-a', value: '1', to: 'purple' }] });
    await expect(startSwitchyard(services)).rejects.toThrow(
      /services\[0\]\.overrides\[0\]\.to: must be "active", "standby" or one of the stacks \(blue, green\)/,
    );
  });
});
