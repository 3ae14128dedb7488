import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StoreChange } from '../../src/state/etcd/store-watch.js';
import { EtcdStateStore, type EtcdStateStoreOptions } from '../../src/state/etcd/store.js';
import type { ServiceState } from '../../src/routing/service-state.js';
import { type EtcdCluster, etcdAvailable, startEtcd } from '../helpers/etcd.js';
import { storeUnavailable } from '../helpers/etcd-stores.js';

const hasEtcd = etcdAvailable(import.meta.filename);

function state(generation: number): ServiceState {
  return { generation, weights: { blue: generation % 2 ? 100 : 0, green: generation % 2 ? 0 : 100 }, targets: {}, history: [] };
}

describe.skipIf(!hasEtcd)('EtcdStateStore on a 3-member etcd cluster', () => {
  let etcd: EtcdCluster;
  const stores: EtcdStateStore[] = [];
  let prefixCount = 0;

  beforeAll(async () => {
    etcd = await startEtcd({ size: 3 });
  });
  afterAll(async () => {
    await etcd?.destroy();
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    for (const member of etcd.members) if (!member.running) member.restart();
    await etcd.waitHealthy();
  });

  function store(id: string, prefix: string, extra: Partial<EtcdStateStoreOptions> = {}): EtcdStateStore {
    const created = new EtcdStateStore({ endpoints: etcd.endpoints, prefix, instanceId: id, timeout: 1500, probeInterval: 200, ...extra });
    stores.push(created);
    return created;
  }

  it('keeps working with one member down: writes fail over, the watch moves to another member', async () => {
    const prefix = `/c${++prefixCount}/`;
    const a = store('a', prefix);
    const b = store('b', prefix, { endpoints: [...etcd.endpoints].reverse() });
    let revision = (await a.put('web', state(1), 0)).modRevision;
    const seen: StoreChange[] = [];
    a.watch(revision + 1, (change) => seen.push(change));
    // a's watch and calls are on m0, the first endpoint: take it away. If m0 led, writes
    // stall for the election (about a second), so wait until the others have a leader.
    await etcd.members[0]!.kill();
    await etcd.waitHealthy();
    revision = (await a.put('web', state(2), revision)).modRevision;
    const fromB = (await b.put('web', state(3), revision)).modRevision;
    await expect.poll(() => seen.map((c) => c.kind === 'service' && c.revision), { timeout: 5000 }).toEqual([fromB]);
    expect(a.connected).toBe(true);
  });

  it('answers STORE_UNAVAILABLE within the bound with two members down, and works again when one returns', async () => {
    const prefix = `/c${++prefixCount}/`;
    const a = store('a', prefix);
    const stored = await a.put('web', state(1), 0);
    await Promise.all([etcd.members[0]!.kill(), etcd.members[1]!.kill()]);
    const started = Date.now();
    // Both calls run at once; each gets its handler now, so whichever fails first is never an unhandled rejection.
    await Promise.all([a.put('web', state(2), stored.modRevision), a.loadAll()].map(storeUnavailable));
    expect(Date.now() - started).toBeLessThan(2 * 1500 + 3000);
    expect(a.connected).toBe(false);
    etcd.members[1]!.restart();
    await etcd.members[1]!.waitHealthy();
    // The put above was answered STORE_UNAVAILABLE, but the surviving member, not knowing
    // yet that it had lost its quorum, may have taken it: it commits now or never.
    const current = await a.loadAll().then((s) => s.services.get('web')!);
    expect([1, 2]).toContain(current.state.generation);
    expect(a.connected).toBe(true);
    await a.put('web', state(3), current.modRevision);
  });

  it('catches up on every revision written while its only member was down, once that member is back', async () => {
    const prefix = `/c${++prefixCount}/`;
    const a = store('a', prefix, { endpoints: [etcd.members[0]!.clientUrl] });
    const b = store('b', prefix, { endpoints: [etcd.members[1]!.clientUrl, etcd.members[2]!.clientUrl] });
    let revision = (await b.put('web', state(1), 0)).modRevision;
    const seen: StoreChange[] = [];
    a.watch(revision + 1, (change) => seen.push(change));
    await expect.poll(() => a.connected, { timeout: 5000 }).toBe(true);
    await etcd.members[0]!.kill();
    await expect.poll(() => a.connected, { timeout: 5000 }).toBe(false);
    const written: number[] = [];
    for (let generation = 2; generation <= 6; generation++) {
      revision = (await b.put('web', state(generation), revision)).modRevision;
      written.push(revision);
    }
    expect(seen).toEqual([]);
    etcd.members[0]!.restart();
    await etcd.members[0]!.waitHealthy();
    await expect.poll(() => seen.map((c) => c.kind === 'service' && c.revision), { timeout: 5000 }).toEqual(written);
    expect(seen.map((c) => c.kind === 'service' && c.value?.state.generation)).toEqual([2, 3, 4, 5, 6]);
  });
});
