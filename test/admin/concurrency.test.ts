import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Switchyard } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { FileStateStore } from '../../src/state/file-store.js';
import { startSwitchyard, tempDir } from '../helpers/switchyard.js';
import { track } from '../helpers/cleanup.js';
import { startBlueGreen } from '../helpers/upstream.js';

let app: Switchyard | undefined;

async function services(): Promise<unknown[]> {
  return (await startBlueGreen()).services;
}

function switchTo(sy: Switchyard, to: string, headers: Record<string, string> = {}): Promise<number> {
  return fetch(`${sy.adminUrl}/v1/services/web/switch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ to }),
  }).then(async (r) => {
    await r.arrayBuffer();
    return r.status;
  });
}

describe('concurrent admin mutations over HTTP', () => {
  it('lets exactly one of 20 concurrent switches with the same If-Match through; the other 19 get 412', async () => {
    const dir = tempDir();
    app = await startSwitchyard(await services(), {}, dir);
    const before = await fetch(`${app.adminUrl}/v1/services/web`);
    const etag = before.headers.get('etag') ?? '';
    const { generation } = (await before.json()) as { generation: number };
    const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => switchTo(app!, i % 2 ? 'blue' : 'green', { 'if-match': etag })));
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(19);
    const after = (await (await fetch(`${app.adminUrl}/v1/services/web`)).json()) as { generation: number };
    expect(after.generation).toBe(generation + 1);
    expect(app.controller.service('web').state.history).toHaveLength(1);
  });

  it('serializes 20 concurrent switches without If-Match: all applied, none lost, the file matching memory', async () => {
    const dir = tempDir();
    app = await startSwitchyard(await services(), {}, dir);
    const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => switchTo(app!, i % 2 ? 'blue' : 'green')));
    expect(statuses).toEqual(Array(20).fill(200));
    const route = app.controller.service('web');
    expect(route.state.history).toHaveLength(20);
    const stored = await new FileStateStore(join(dir, 'state.json')).load();
    expect(stored?.services.web).toEqual(route.state);
  });
});

describe('admin token', () => {
  it('never appears in the logs, whether right or wrong', async () => {
    const token = 'tok-3f9a1c7e-never-log-me';
    const wrong = 'tok-wrong-also-never-logged';
    process.env.SWITCHYARD_CONCURRENCY_TOKEN = token;
    let logged = '';
    const sink = new Writable({
      write: (chunk, _enc, done) => {
        logged += chunk.toString();
        done();
      },
    });
    const dir = tempDir();
    const config = validateConfig({
      listeners: [{ name: 'http', port: 0, address: '127.0.0.1' }],
      admin: { listen: '127.0.0.1:0', token_env: 'SWITCHYARD_CONCURRENCY_TOKEN' },
      state: { path: join(dir, 'state.json') },
      certs_dir: join(dir, 'certs'),
      logging: { level: 'trace', access_log: true },
      services: await services(),
    });
    app = track(await Switchyard.start(config, pino({ level: 'trace' }, sink)));
    for (const value of [token, wrong]) {
      await fetch(`${app.adminUrl}/v1/services`, { headers: { authorization: `Bearer ${value}` } }).then((r) => r.arrayBuffer());
      await fetch(`${app.adminUrl}/v1/services/web/switch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${value}`, 'content-type': 'application/json' },
        body: '{"to":"green"}',
      }).then((r) => r.arrayBuffer());
    }
    delete process.env.SWITCHYARD_CONCURRENCY_TOKEN;
    // The authorized switch is logged (so the check below means something).
    expect(logged).toContain('"service":"web"');
    expect(logged).not.toContain(token);
    expect(logged).not.toContain(wrong);
  });
});
