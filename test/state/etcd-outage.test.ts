import { describe, expect, it } from 'vitest';
import type { StoreChange } from '../../src/state/etcd/store-watch.js';
import type { EtcdStateStore, EtcdStateStoreOptions } from '../../src/state/etcd/store.js';
import type { ServiceState } from '../../src/routing/service-state.js';
import { etcdAvailable } from '../helpers/etcd.js';
import { storeUnavailable, useEtcdStores } from '../helpers/etcd-stores.js';

const hasEtcd = etcdAvailable(import.meta.filename);

function state(generation: number): ServiceState {
  return { generation, weights: { blue: generation % 2 ? 100 : 0, green: generation % 2 ? 0 : 100 }, targets: {}, history: [] };
}

/** Waits for a value from a callback-style source. */
function until<T>(subscribe: (done: (value: T) => void) => void): Promise<T> {
  return new Promise((resolve) => subscribe(resolve));
}

describe.skipIf(!hasEtcd)('EtcdStateStore when etcd goes away', () => {
  // Every test leaves etcd running for the next.
  const fleet = useEtcdStores((n) => `/o${n}/`, { timeout: 1000, probeInterval: 200 });
  const store = (id: string, prefix: string, extra: Partial<EtcdStateStoreOptions> = {}): EtcdStateStore => fleet.store(id, { prefix, ...extra });

  it('killed: calls fail with STORE_UNAVAILABLE within the bound, the connection callback fires; restarted: the watch resumes without a gap', async () => {
    const prefix = fleet.freshPrefix();
    const a = store('a', prefix);
    const b = store('b', prefix);
    let revision = (await b.put('web', state(1), 0)).modRevision;
    const seen: StoreChange[] = [];
    const transitions: boolean[] = [];
    a.onConnection((connected) => transitions.push(connected));
    a.watch((await a.loadAll()).revision + 1, (change) => seen.push(change));
    const down = until<boolean>((done) => a.onConnection((connected) => !connected && done(connected)));

    await fleet.etcd.first.kill();
    await down;
    const started = Date.now();
    await storeUnavailable(a.put('web', state(2), revision));
    await storeUnavailable(a.loadAll());
    await storeUnavailable(a.seedIfAbsent(new Map([['api', state(1)]])));
    expect(Date.now() - started).toBeLessThan(3 * 1000 + 2000);
    expect(a.connected).toBe(false);

    const up = until<boolean>((done) => a.onConnection((connected) => connected && done(connected)));
    fleet.etcd.first.restart();
    await fleet.etcd.first.waitHealthy();
    const revisions: number[] = [];
    for (let generation = 2; generation <= 6; generation++) {
      revision = (await b.put('web', state(generation), revision)).modRevision;
      revisions.push(revision);
    }
    await up;
    await expect.poll(() => seen.length, { timeout: 5000 }).toBe(5);
    expect(seen.map((c) => c.kind === 'service' && c.revision)).toEqual(revisions);
    expect(transitions.slice(0, 2)).toEqual([true, false]);
    expect(transitions.at(-1)).toBe(true);
    // Mutations work again.
    await a.put('web', state(7), revision);
  });

  it('hung (SIGSTOP): calls fail with STORE_UNAVAILABLE within the bound instead of hanging, and recover on SIGCONT', async () => {
    const prefix = fleet.freshPrefix();
    const a = store('a', prefix, { timeout: 800 });
    const stored = await a.put('web', state(1), 0);
    const changes: StoreChange[] = [];
    a.watch(stored.modRevision + 1, (change) => changes.push(change));
    fleet.etcd.first.pause();
    const started = Date.now();
    await storeUnavailable(a.put('web', state(2), stored.modRevision));
    await storeUnavailable(a.loadAll());
    // Two bounded calls; generous margin for a loaded machine, but far from a hang.
    expect(Date.now() - started).toBeLessThan(2 * 800 + 3000);
    expect(a.connected).toBe(false);
    fleet.etcd.first.resume();
    await fleet.etcd.first.waitHealthy();
    // The put sent to the frozen etcd was answered STORE_UNAVAILABLE, but etcd may still
    // apply it on SIGCONT (it sat in the socket buffer): then the watch reports it.
    const b = store('b', prefix);
    const current = (await b.loadAll()).services.get('web')!;
    const next = await b.put('web', state(3), current.modRevision);
    await expect
      .poll(
        () => {
          const last = changes.at(-1);
          return last?.kind === 'service' && last.revision;
        },
        { timeout: 5000 },
      )
      .toBe(next.modRevision);
    const expected = current.modRevision > stored.modRevision ? [current.modRevision, next.modRevision] : [next.modRevision];
    expect(changes.map((c) => c.kind === 'service' && c.revision)).toEqual(expected);
    await expect.poll(() => a.connected, { timeout: 5000 }).toBe(true);
  });

  it('serves the last state from the cache file after a restart while etcd is down', async () => {
    const prefix = fleet.freshPrefix();
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const cachePath = join(mkdtempSync(join(tmpdir(), 'switchyard-cache-')), 'state.json');
    const a = store('a', prefix, { cachePath });
    await a.seedIfAbsent(new Map([['web', state(1)]]));
    const snapshot = await a.loadAll();
    await a.put('web', state(2), snapshot.services.get('web')!.modRevision);
    await a.close();
    await fleet.etcd.first.kill();
    const restarted = store('a', prefix, { cachePath });
    await storeUnavailable(restarted.loadAll());
    expect((await restarted.loadCache())?.services).toEqual({ web: state(2) });
  });
});
