import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Switchyard } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import type { SwitchyardEvent } from '../../src/events/bus.js';
import { track } from '../helpers/cleanup.js';
import { b64, type EtcdCluster, etcdAvailable, gateway, startEtcd } from '../helpers/etcd.js';
import { get } from '../helpers/http.js';
import { tempDir } from '../helpers/switchyard.js';
import { startUpstream } from '../helpers/upstream.js';

const hasEtcd = etcdAvailable(import.meta.filename);

/** Log lines of one instance, parsed. */
type Lines = { msg: string; [key: string]: unknown }[];

describe.skipIf(!hasEtcd)('a switchyard on etcd (in process)', () => {
  let etcd: EtcdCluster;
  let prefixCount = 0;

  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await etcd?.destroy();
  });

  async function upstreams(): Promise<Record<string, string>> {
    const names = ['blue', 'green', 'canary'];
    const started = await Promise.all(names.map((name) => startUpstream(name)));
    return Object.fromEntries(names.map((name, i) => [name, started[i]?.address ?? '']));
  }

  function serviceConfig(name: string, stacks: Record<string, string>, extra: Record<string, unknown> = {}) {
    return {
      name,
      hosts: [`${name}.test`],
      stacks: Object.fromEntries(Object.entries(stacks).map(([stack, target]) => [stack, { targets: [target] }])),
      ...extra,
    };
  }

  /** Starts an instance with its own logs; `services` is the config's list. */
  async function instance(
    id: string,
    prefix: string,
    services: unknown[],
  ): Promise<{ app: Switchyard; lines: Lines; events: SwitchyardEvent[]; config: unknown }> {
    const dir = tempDir();
    const lines: Lines = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Lines[number]) });
    const document = {
      listeners: [{ name: 'http', port: 0, address: '127.0.0.1' }],
      admin: { listen: '127.0.0.1:0' },
      state: { store: 'etcd', endpoints: etcd.endpoints, prefix, path: join(dir, 'state.json'), instance_id: id },
      certs_dir: join(dir, 'certs'),
      services,
    };
    const app = track(await Switchyard.start(validateConfig(document), log));
    const events: SwitchyardEvent[] = [];
    app.controller.events.subscribe((event) => events.push(event));
    return { app, lines, events, config: document };
  }

  const served = async (app: Switchyard, host: string) => (await get(app.port('http'), { headers: { host } })).body;

  it('logs where its YAML and etcd disagree, serves what it declares, and picks up a service etcd holds when a reload adds it', async () => {
    const prefix = `/p${++prefixCount}/`;
    const up = await upstreams();
    const a = await instance('a', prefix, [
      serviceConfig('web', { blue: up.blue ?? '', green: up.green ?? '' }),
      serviceConfig('api', { blue: up.blue ?? '', green: up.green ?? '' }),
    ]);
    await a.app.controller.switchTo('api', 'green', { force: true });
    const webOnly = serviceConfig('web', { blue: up.blue ?? '', canary: up.canary ?? '' });
    const b = await instance('b', prefix, [webOnly]);
    expect(b.lines.map((l) => l.msg)).toEqual(
      expect.arrayContaining([
        'etcd holds services this config does not declare (not served here): api',
        'service web: stacks differ between this config (blue, canary) and etcd (blue, green); serving the configured ones',
      ]),
    );
    expect(await served(b.app, 'web.test')).toBe('blue');
    expect(await served(b.app, 'api.test')).not.toBe('green');
    // SIGHUP with api added: served with the state the fleet gave it, not the YAML's.
    await b.app.reload(validateConfig({ ...(b.config as object), services: [webOnly, serviceConfig('api', { blue: up.blue ?? '', green: up.green ?? '' })] }));
    expect(await served(b.app, 'api.test')).toBe('green');
    expect(b.app.controller.service('api').state.generation).toBe(2);
    // And its first change there is a conditional write on etcd's version, not a blind create.
    await b.app.controller.switchTo('api', 'blue', { force: true });
    await expect.poll(() => served(a.app, 'api.test')).toBe('blue');
  });

  it('applies a value written by another tool (no event in it) with a derived event, and falls back to the config when the key is deleted', async () => {
    const prefix = `/p${++prefixCount}/`;
    const up = await upstreams();
    const a = await instance('a', prefix, [serviceConfig('web', { blue: up.blue ?? '', green: up.green ?? '' })]);
    const key = b64(`${prefix}services/web`);
    const state = { generation: 9, weights: { blue: 0, green: 100 }, targets: { green: [up.canary] }, history: [] };
    await gateway(etcd.first.clientUrl, '/kv/put', { key, value: b64(JSON.stringify({ origin: 'etcdctl', time: new Date().toISOString(), state })) });
    await expect.poll(() => served(a.app, 'web.test')).toBe('canary');
    expect(a.events).toMatchObject([
      { type: 'weights', service: 'web', from: { blue: 100, green: 0 }, to: { blue: 0, green: 100 }, active: 'green', generation: 9, origin: 'etcdctl' },
      { type: 'targets', service: 'web', stack: 'green', targets: [up.canary], generation: 9, origin: 'etcdctl' },
    ]);
    // A stale value (an older revision cannot arrive, but a bad one can) is ignored, the rest goes on.
    await gateway(etcd.first.clientUrl, '/kv/put', { key: b64(`${prefix}services/other`), value: b64('{"not":"a state"}') });
    await gateway(etcd.first.clientUrl, '/kv/deleterange', { key });
    await expect.poll(() => served(a.app, 'web.test')).toBe('blue');
    expect(a.app.controller.service('web').state).toEqual({ generation: 1, weights: { blue: 100, green: 0 }, targets: {}, history: [] });
    // With nothing stored, the next change creates the key again.
    await a.app.controller.switchTo('web', 'green', { force: true });
    const stored = await gateway(etcd.first.clientUrl, '/kv/range', { key });
    expect((stored.kvs as unknown[]).length).toBe(1);
    expect(a.lines.some((l) => l.msg === 'etcd key holds no valid service state; ignored')).toBe(true);
  });

  it('answers /v1/fleet and ?wait=all with the file store too (a fleet of one), and refuses an unknown wait', async () => {
    const up = await upstreams();
    const dir = tempDir();
    const config = validateConfig({
      listeners: [{ name: 'http', port: 0, address: '127.0.0.1' }],
      admin: { listen: '127.0.0.1:0' },
      state: { path: join(dir, 'state.json') },
      certs_dir: join(dir, 'certs'),
      logging: { level: 'silent' },
      services: [serviceConfig('web', { blue: up.blue ?? '', green: up.green ?? '' })],
    });
    const app = track(await Switchyard.start(config, pino({ level: 'silent' })));
    expect((await app.admin.inject({ method: 'GET', url: '/v1/fleet' })).json()).toEqual({ store: 'file', members: [] });
    const switched = await app.admin.inject({ method: 'POST', url: '/v1/services/web/switch?wait=all', payload: { to: 'green', force: true } });
    expect(switched.statusCode).toBe(200);
    const bad = await app.admin.inject({ method: 'POST', url: '/v1/services/web/switch?wait=some', payload: { to: 'blue', force: true } });
    expect(bad.statusCode).toBe(400);
    expect(app.controller.service('web').active.name).toBe('green');
    const metrics = await app.admin.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/^switchyard_store_connected 1$/m);
  });
});
