import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { startSwitchyard, tempDir } from '../helpers/switchyard.js';

let app: Switchyard | undefined;
afterEach(async () => {
  await app?.stop(0);
  app = undefined;
});

const json = { 'content-type': 'application/json' };

async function start(dir: string): Promise<Switchyard> {
  app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: ['127.0.0.1:1'] }, green: { targets: ['127.0.0.1:2'] } } }], {}, dir);
  return app;
}

describe('PUT /v1/services/:service/stacks/:stack/targets', () => {
  it.each([['a:99999'], ['127.0.0.1:0'], ['::1:80'], ['bad_host:80'], ['x'.repeat(300)]])(
    'refuses %s with 400 INVALID_TARGET naming it; nothing stored, generation unchanged',
    async (bad) => {
      const dir = tempDir();
      const started = await start(dir);
      const reply = await started.admin.inject({
        method: 'PUT',
        url: '/v1/services/web/stacks/green/targets',
        headers: json,
        payload: { targets: ['127.0.0.1:3', bad] },
      });
      expect(reply.statusCode).toBe(400);
      expect(reply.json().error.code).toBe('INVALID_TARGET');
      expect(reply.json().error.message).toContain(`targets[1] ${JSON.stringify(bad).slice(0, 50)}`);
      expect(reply.json().error.message.length).toBeLessThan(250);
      const service = await started.admin.inject({ url: '/v1/services/web' });
      expect(service.headers.etag).toBe('"1"');
      expect(service.json().stacks.green.targets.map((t: { address: string }) => t.address)).toEqual(['127.0.0.1:2']);
      expect(existsSync(join(dir, 'state.json'))).toBe(false);
    },
  );

  it('accepts host names and bracketed IPv6 literals', async () => {
    const started = await start(tempDir());
    const reply = await started.admin.inject({
      method: 'PUT',
      url: '/v1/services/web/stacks/green/targets',
      headers: json,
      payload: { targets: ['[::1]:8080', 'green-1.internal:80'] },
    });
    expect(reply.statusCode).toBe(200);
    expect(reply.headers.etag).toBe('"2"');
  });

  it('refuses a target that is not a string as a malformed body', async () => {
    const started = await start(tempDir());
    const reply = await started.admin.inject({ method: 'PUT', url: '/v1/services/web/stacks/green/targets', headers: json, payload: { targets: [8080] } });
    expect(reply.statusCode).toBe(400);
    expect(reply.json().error.code).toBe('INVALID_BODY');
  });
});
