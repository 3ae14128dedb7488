import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SwitchyardEvent } from '../../src/events/bus.js';
import { DriveLock } from '../../src/rollout/drive-lock.js';
import { EtcdClient } from '../../src/state/etcd/client.js';
import { LeaseLocks } from '../../src/state/etcd/lease-lock.js';
import { adminCall } from '../helpers/admin-call.js';
import { b64, type EtcdCluster, etcdAvailable, gateway, startEtcd } from '../helpers/etcd.js';
import { fleetSwitchyard } from '../helpers/fleet-in-process.js';
import { startUpstream } from '../helpers/upstream.js';

const hasEtcd = etcdAvailable(import.meta.filename);
const silent = pino({ level: 'silent' });

/** The JSON value of `key` in etcd, or undefined when it is absent. */
async function stored(etcd: EtcdCluster, key: string): Promise<Record<string, unknown> | undefined> {
  const answer = (await gateway(etcd.first.clientUrl, '/kv/range', { key: b64(key) })) as { kvs?: { value: string }[] };
  const value = answer.kvs?.[0]?.value;
  return value === undefined ? undefined : (JSON.parse(Buffer.from(value, 'base64').toString()) as Record<string, unknown>);
}

/** The lease lock shared by ACME and rollouts, and the rollout driver holding it (the kill -9 takeover: test/e2e/fleet-rollout-takeover.test.ts). */
describe.skipIf(!hasEtcd)('rollout lock on etcd', () => {
  let etcd: EtcdCluster;
  const clients: EtcdClient[] = [];

  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await etcd?.destroy();
  });

  function locks(dir: string, owner: string, ttl?: number): LeaseLocks {
    const client = new EtcdClient({ endpoints: etcd.endpoints });
    clients.push(client);
    return new LeaseLocks(client, dir, owner, silent, 'test lock', ttl);
  }

  describe('LeaseLocks', () => {
    it('gives a name to one holder at a time, per directory; the key names its owner; release frees it', async () => {
      const [a, b] = [locks('/locks-test/rollout/', 'a'), locks('/locks-test/rollout/', 'b')];
      const held = await a.take('web/api');
      expect(held?.signal.aborted).toBe(false);
      expect(await b.take('web/api')).toBeUndefined();
      // "/" in a name stays inside one key segment.
      expect(await stored(etcd, '/locks-test/rollout/web%2Fapi')).toMatchObject({ owner: 'a' });
      // The same name in another directory is another lock.
      const elsewhere = await locks('/locks-test/acme/', 'b').take('web/api');
      expect(elsewhere).toBeDefined();
      await held?.release();
      expect(await stored(etcd, '/locks-test/rollout/web%2Fapi')).toBeUndefined();
      const next = await b.take('web/api');
      expect(next).toBeDefined();
      await Promise.all([next?.release(), elsewhere?.release()]);
    });
  });

  describe('DriveLock', () => {
    it('lets an instance drive only while it holds the lock: lost, it stops and another instance takes the lock', async () => {
      const counts = { aKicks: 0, aLost: 0, dKicks: 0 };
      const hooks = (kick: 'aKicks' | 'dKicks', lost: 'aLost' | undefined) => ({ kick: () => counts[kick]++, lost: () => lost && counts[lost]++ });
      const a = new DriveLock('web', locks('/drive-test/', 'a', 1), silent, hooks('aKicks', 'aLost'));
      await a.takeFirst();
      expect([a.claim(), counts.aKicks]).toEqual([true, 0]);
      expect(await locks('/drive-test/', 'c', 1).take('web')).toBeUndefined();

      // The lease goes (as when etcd expires it): A hears of it at its next renewal and may not drive.
      const range = (await gateway(etcd.first.clientUrl, '/kv/range', { key: b64('/drive-test/web') })) as { kvs?: { lease?: string }[] };
      await gateway(etcd.first.clientUrl, '/lease/revoke', { ID: range.kvs?.[0]?.lease });
      await expect.poll(() => counts.aLost).toBe(1);
      expect(a.claim()).toBe(false);
      const d = new DriveLock('web', locks('/drive-test/', 'd', 1), silent, hooks('dKicks', undefined));
      expect(d.claim()).toBe(false);
      await expect.poll(() => counts.dKicks).toBe(1);
      expect(d.claim()).toBe(true);
      expect(await stored(etcd, '/drive-test/web')).toMatchObject({ owner: 'd' });
      for (const lock of [a, d]) lock.stop();
      await expect.poll(() => stored(etcd, '/drive-test/web')).toBeUndefined();
    });

    it('always lets an instance without a fleet drive', () => {
      expect(new DriveLock('web', undefined, silent, { kick: () => {}, lost: () => {} }).claim()).toBe(true);
    });
  });

  describe('RolloutRunner in a fleet', () => {
    const instance = (id: string, services: unknown[]) => fleetSwitchyard(etcd.endpoints, '/rollout-lock/', id, services);

    it('an operator action through an instance that does not drive reaches the one that does; the lock goes with the end', async () => {
      const blue = await startUpstream('blue');
      const green = await startUpstream('green');
      const services = [{ name: 'web', stacks: { blue: { targets: [blue.address] }, green: { targets: [green.address] } } }];
      const a = await instance('a', services);
      const b = await instance('b', services);
      const onB: SwitchyardEvent[] = [];
      b.controller.events.subscribe((e) => onB.push(e));

      await adminCall(a, 'POST', '/v1/services/web/rollouts', { to: 'green', steps: [{ weight: 20 }, { pause: {} }, { weight: 100 }] });
      await expect.poll(async () => (await adminCall(b, 'GET', '/v1/services/web/rollout')).body.state).toBe('paused');
      expect(await stored(etcd, '/rollout-lock/locks/rollout/web')).toMatchObject({ owner: 'a' });

      const promoted = await adminCall(b, 'POST', '/v1/services/web/rollout/promote', {});
      expect(promoted.status).toBe(200);
      await expect.poll(async () => (await adminCall(b, 'GET', '/v1/services/web/rollout')).body.state).toBe('completed');
      // A took the last step: B published only the promote it was asked for.
      expect(onB.find((e) => e.type === 'weights' && e.reason === 'rollout step 3/3: weight 100')).toMatchObject({ origin: 'a' });
      expect(onB.filter((e) => e.type === 'rollout').map((e) => (e.type === 'rollout' ? e.action : ''))).toEqual(['promoted']);
      await expect.poll(() => stored(etcd, '/rollout-lock/locks/rollout/web')).toBeUndefined();
      expect(a.controller.service('web').weights).toEqual([0, 100]);
    });
  });
});
