import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCall } from '../helpers/admin-call.js';
import { type EtcdCluster, etcdAvailable, startEtcd } from '../helpers/etcd.js';
import { fleetSwitchyard } from '../helpers/fleet-in-process.js';
import { get } from '../helpers/http.js';
import { rolloutEvent } from '../helpers/traffic.js';
import { startUpstream } from '../helpers/upstream.js';

const hasEtcd = etcdAvailable(import.meta.filename);

/** Rollouts and run-time overrides are shared state in a fleet (SPEC §9 lists rollouts among what lives in etcd). */
describe.skipIf(!hasEtcd)('rollouts and overrides on etcd', () => {
  let etcd: EtcdCluster;

  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await etcd?.destroy();
  });

  const instance = (id: string, services: unknown[]) => fleetSwitchyard(etcd.endpoints, '/rollout/', id, services);

  it('shows a rollout started on one instance on the other, which refuses manual changes meanwhile; overrides and the abort travel too', async () => {
    const blue = await startUpstream('blue');
    const green = await startUpstream('green');
    const services = [{ name: 'web', stacks: { blue: { targets: [blue.address] }, green: { targets: [green.address] } } }];
    const a = await instance('a', services);
    const b = await instance('b', services);

    const paused = rolloutEvent(a, (e) => e.action === 'paused');
    await adminCall(a, 'POST', '/v1/services/web/rollouts', { to: 'green', steps: [{ weight: 20 }, { pause: {} }] });
    await paused;
    await expect.poll(async () => (await adminCall(b, 'GET', '/v1/services/web/rollout')).body.state).toBe('paused');
    expect((await adminCall(b, 'GET', '/v1/services/web/rollout')).body).toMatchObject({
      from: 'blue',
      to: 'green',
      step: 1,
      weights: { blue: 80, green: 20 },
    });
    const refused = await adminCall(b, 'POST', '/v1/services/web/switch', { to: 'green' });
    expect([refused.status, refused.body.error.code]).toEqual([409, 'ROLLOUT_IN_PROGRESS']);

    const put = await adminCall(b, 'PUT', '/v1/services/web/overrides', { overrides: [{ header: 'x-canary', value: 'always', to: 'green' }] });
    expect(put.status).toBe(200);
    await expect.poll(async () => (await get(a.port('http'), { headers: { 'x-canary': 'always' } })).body).toBe('green');

    await adminCall(a, 'POST', '/v1/services/web/rollout/abort', {});
    await expect.poll(async () => (await adminCall(b, 'GET', '/v1/services/web/rollout')).body.state).toBe('aborted');
    expect(b.controller.service('web').weights).toEqual([100, 0]);
    expect((await adminCall(b, 'POST', '/v1/services/web/switch', { to: 'blue' })).status).toBe(200);
  });
});
