import { describe, expect, it } from 'vitest';
import { FleetLaggingError } from '../../src/state/etcd/fleet-wait.js';
import type { StoreChange } from '../../src/state/etcd/store-watch.js';
import type { EtcdStateStore } from '../../src/state/etcd/store.js';
import { etcdAvailable, gateway } from '../helpers/etcd.js';
import { storeUnavailable, useEtcdStores } from '../helpers/etcd-stores.js';

const hasEtcd = etcdAvailable(import.meta.filename);

describe.skipIf(!hasEtcd)('EtcdStateStore fleet members', () => {
  const fleet = useEtcdStores((n) => `/m${n}/`, { timeout: 1000 });
  const { store, freshPrefix } = fleet;

  const ids = async (s: EtcdStateStore) => (await s.members()).map((m) => m.id).sort();

  it('lists registered members with address, published generation and last_seen; others see the publication', async () => {
    freshPrefix();
    const a = store('host-a:9901');
    const b = store('host-b:9901');
    const before = Date.now();
    await a.register('10.0.0.1:9901');
    await b.register('10.0.0.2:9901');
    const changes: StoreChange[] = [];
    b.watch((await b.loadAll()).revision + 1, (change) => changes.push(change));
    expect(await ids(a)).toEqual(['host-a:9901', 'host-b:9901']);
    await a.publishGeneration(42);
    const members = await b.members();
    const memberA = members.find((m) => m.id === 'host-a:9901');
    expect(memberA).toMatchObject({ id: 'host-a:9901', address: '10.0.0.1:9901', generation: 42 });
    expect(Date.parse(memberA!.last_seen)).toBeGreaterThanOrEqual(before - 1000);
    await expect.poll(() => changes.find((c) => c.kind === 'member' && c.value?.generation === 42), { timeout: 5000 }).toMatchObject({ id: 'host-a:9901' });
    // A generation never goes back (a late publish of an older one is ignored).
    await a.publishGeneration(7);
    expect((await b.members()).find((m) => m.id === 'host-a:9901')?.generation).toBe(42);
  });

  it('drops a member at once when it leaves, and after the lease TTL when it stops heart-beating (a crash)', async () => {
    freshPrefix();
    const a = store('a', { memberTtl: 2 });
    const b = store('b', { memberTtl: 2 });
    const observer = store('observer');
    await a.register('a:1');
    await b.register('b:1');
    await a.close();
    expect(await ids(observer)).toEqual(['b']);
    const crashed = Date.now();
    await b.close({ leave: false });
    expect(await ids(observer)).toEqual(['b']);
    await expect.poll(() => ids(observer), { timeout: 8000, interval: 200 }).toEqual([]);
    // etcd may round a lease up; it still expires within a few seconds, not never.
    expect(Date.now() - crashed).toBeGreaterThanOrEqual(1000);
  });

  it('registers again when its lease is lost (revoked, or expired during an outage)', async () => {
    freshPrefix();
    const a = store('a', { memberTtl: 3 });
    const observer = store('observer');
    await a.register('a:1');
    await a.publishGeneration(9);
    const lease = (await gateway(fleet.etcd.first.clientUrl, '/kv/range', { key: Buffer.from(`${fleet.prefix}members/a`).toString('base64') })) as {
      kvs?: { lease?: string }[];
    };
    await gateway(fleet.etcd.first.clientUrl, '/lease/revoke', { ID: lease.kvs?.[0]?.lease });
    expect(await ids(observer)).toEqual([]);
    // The heartbeat (every TTL/3) finds the lease gone and registers with a new one.
    await expect.poll(() => observer.members(), { timeout: 5000, interval: 100 }).toMatchObject([{ id: 'a', generation: 9 }]);
  });

  it('fails to register with STORE_UNAVAILABLE while etcd is down, and registers once it is back', async () => {
    freshPrefix();
    await fleet.etcd.first.kill();
    const a = store('a', { memberTtl: 3 });
    await storeUnavailable(a.register('a:1'));
    fleet.etcd.first.restart();
    await fleet.etcd.first.waitHealthy();
    const observer = store('observer');
    await expect.poll(() => ids(observer), { timeout: 5000, interval: 100 }).toEqual(['a']);
  });

  describe('#waitForGeneration', () => {
    it('resolves once every live member published the generation, and answers FLEET_LAGGING naming the laggards on timeout', async () => {
      freshPrefix();
      const [a, b, c] = [store('a'), store('b'), store('c')];
      await Promise.all([a.register('a:1', 10), b.register('b:1', 10), c.register('c:1', 10)]);
      expect(await a.waitForGeneration(10, 1000)).toHaveLength(3);
      await a.publishGeneration(11);
      await b.publishGeneration(11);
      const error = await a.waitForGeneration(11, 300).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(FleetLaggingError);
      expect((error as FleetLaggingError).status).toBe(504);
      expect((error as FleetLaggingError).toJSON()).toEqual({ error: { code: 'FLEET_LAGGING', message: expect.stringContaining('c'), members: ['c'] } });
      const waiting = a.waitForGeneration(12, 5000);
      await Promise.all([a.publishGeneration(12), b.publishGeneration(12)]);
      await c.publishGeneration(12);
      expect((await waiting).map((m) => m.generation)).toEqual([12, 12, 12]);
    });

    it('stops waiting for a member that leaves the fleet', async () => {
      freshPrefix();
      const [a, b] = [store('a'), store('b')];
      await Promise.all([a.register('a:1', 5), b.register('b:1', 5)]);
      await a.publishGeneration(6);
      const waiting = a.waitForGeneration(6, 5000);
      await b.close();
      expect((await waiting).map((m) => m.id)).toEqual(['a']);
    });
  });
});
