import { readFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { StoreChange } from '../../src/state/etcd/store-watch.js';
import { EtcdStateStore, type EtcdStateStoreOptions } from '../../src/state/etcd/store.js';
import type { ServiceState } from '../../src/routing/service-state.js';
import { type EtcdCluster, enableAuth, etcdAvailable, startEtcd } from '../helpers/etcd.js';
import { storeUnavailable } from '../helpers/etcd-stores.js';

const hasEtcd = etcdAvailable(import.meta.filename);

function state(generation: number): ServiceState {
  return { generation, weights: { blue: 100, green: 0 }, targets: {}, history: [] };
}

describe.skipIf(!hasEtcd)('EtcdStateStore with etcd auth and TLS', () => {
  const clusters: EtcdCluster[] = [];
  const stores: EtcdStateStore[] = [];

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    await Promise.all(clusters.map((c) => c.destroy()));
  });

  function store(etcd: EtcdCluster, id: string, extra: Partial<EtcdStateStoreOptions> = {}): EtcdStateStore {
    const created = new EtcdStateStore({ endpoints: etcd.endpoints, prefix: '/sec/', instanceId: id, timeout: 1000, probeInterval: 200, ...extra });
    stores.push(created);
    return created;
  }

  it('authenticates with username and password, re-authenticates after etcd forgot its tokens, and refuses bad credentials', async () => {
    const etcd = await startEtcd();
    clusters.push(etcd);
    await enableAuth(etcd.first.clientUrl, 'pa55word');
    const auth = { username: 'root', password: 'pa55word' };
    const a = store(etcd, 'a', { auth });
    const b = store(etcd, 'b', { auth });
    const revision = (await a.put('web', state(1), 0)).modRevision;
    const changes: StoreChange[] = [];
    a.watch(revision + 1, (change) => changes.push(change));
    const second = (await b.put('web', state(2), revision)).modRevision;
    await expect.poll(() => changes.length, { timeout: 5000 }).toBe(1);

    // Simple tokens live in etcd's memory: a restart invalidates them.
    await etcd.first.kill();
    etcd.first.restart();
    await etcd.first.waitHealthy();
    const third = (await b.put('web', state(3), second)).modRevision;
    await expect.poll(() => changes.map((c) => c.kind === 'service' && c.revision), { timeout: 5000 }).toEqual([second, third]);

    const wrong = await storeUnavailable(store(etcd, 'c', { auth: { username: 'root', password: 'nope' } }).loadAll());
    expect(wrong.message).toContain('user "root"');
    const anonymous = await storeUnavailable(store(etcd, 'd').loadAll());
    expect(anonymous.message).toMatch(/refused access/);
  });

  it('talks TLS with a client certificate, and is refused without one', async () => {
    const etcd = await startEtcd({ tls: true });
    clusters.push(etcd);
    const files = etcd.tls!;
    const tls = { ca: readFileSync(files.ca, 'utf8'), cert: readFileSync(files.clientCert, 'utf8'), key: readFileSync(files.clientKey, 'utf8') };
    expect(etcd.first.clientUrl).toMatch(/^https:/);
    const a = store(etcd, 'a', { tls });
    const stored = await a.put('web', state(1), 0);
    expect((await a.loadAll()).services.get('web')).toEqual(stored);
    await storeUnavailable(store(etcd, 'b', { tls: { ca: tls.ca } }).loadAll());
    await storeUnavailable(store(etcd, 'c').loadAll());
  });
});
