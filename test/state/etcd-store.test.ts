import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StoreChange } from '../../src/state/etcd/store-watch.js';
import { type EtcdStateStore, StoreConflictError } from '../../src/state/etcd/store.js';
import type { ServiceState } from '../../src/routing/service-state.js';
import { b64, etcdAvailable, gateway } from '../helpers/etcd.js';
import { storeUnavailable, useEtcdStores } from '../helpers/etcd-stores.js';

const hasEtcd = etcdAvailable(import.meta.filename);

function state(generation: number, blue: number): ServiceState {
  return { generation, weights: { blue, green: 100 - blue }, targets: {}, history: [] };
}

/** Resolves with the first change `accept` takes, from a queue fed by a watch. */
class Changes {
  readonly seen: StoreChange[] = [];
  private waiters: { accept: (c: StoreChange) => boolean; resolve: (c: StoreChange) => void }[] = [];

  readonly push = (change: StoreChange): void => {
    this.seen.push(change);
    this.waiters = this.waiters.filter((w) => {
      if (!w.accept(change)) return true;
      w.resolve(change);
      return false;
    });
  };

  next(accept: (c: StoreChange) => boolean): Promise<StoreChange> {
    const found = this.seen.find(accept);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({ accept, resolve }));
  }
}

describe.skipIf(!hasEtcd)('EtcdStateStore on one etcd', () => {
  // Each test gets its own prefix on the shared etcd.
  const fleet = useEtcdStores((n) => `/t${n}/switchyard/`);
  const { store, freshPrefix } = fleet;

  describe('#loadAll', () => {
    it('answers an empty snapshot with the current revision on an empty prefix', async () => {
      freshPrefix();
      const snapshot = await store('a').loadAll();
      expect(snapshot.services.size).toBe(0);
      expect(snapshot.certs.size).toBe(0);
      expect(snapshot.revision).toBeGreaterThan(0);
    });

    it('ignores a key that holds no valid state (bad input) and keeps the rest', async () => {
      freshPrefix();
      const a = store('a');
      await a.seedIfAbsent(new Map([['web', state(1, 100)]]));
      await gateway(fleet.etcd.first.clientUrl, '/kv/put', { key: b64(`${fleet.prefix}services/broken`), value: b64('{"not":"a state"}') });
      await gateway(fleet.etcd.first.clientUrl, '/kv/put', { key: b64(`${fleet.prefix}unrelated`), value: b64('x') });
      const snapshot = await a.loadAll();
      expect([...snapshot.services.keys()]).toEqual(['web']);
    });
  });

  describe('#seedIfAbsent', () => {
    it('lets exactly one of two instances seeding together win, and both read the winner', async () => {
      freshPrefix();
      const a = store('a');
      const b = store('b');
      const [fromA, fromB] = await Promise.all([
        a.seedIfAbsent(
          new Map([
            ['web', state(1, 100)],
            ['api', state(1, 100)],
          ]),
        ),
        b.seedIfAbsent(
          new Map([
            ['web', state(1, 0)],
            ['api', state(1, 0)],
          ]),
        ),
      ]);
      for (const name of ['web', 'api']) {
        expect([fromA.seeded.includes(name), fromB.seeded.includes(name)].filter(Boolean)).toHaveLength(1);
        expect(fromA.services.get(name)).toEqual(fromB.services.get(name));
      }
      const [readA, readB] = await Promise.all([a.loadAll(), b.loadAll()]);
      expect(readA.services).toEqual(readB.services);
      expect(readA.services).toEqual(fromA.services);
    });

    it('never overwrites a service that is already stored', async () => {
      freshPrefix();
      const a = store('a');
      await a.seedIfAbsent(new Map([['web', state(1, 100)]]));
      const stored = await a.put('web', state(2, 0), (await a.loadAll()).services.get('web')?.modRevision ?? -1);
      const again = await store('b').seedIfAbsent(
        new Map([
          ['web', state(1, 100)],
          ['new', state(1, 100)],
        ]),
      );
      expect(again.seeded).toEqual(['new']);
      expect(again.services.get('web')).toEqual(stored);
    });
  });

  describe('#put', () => {
    it('lets exactly one of 20 concurrent conditional puts win; the 19 others get StoreConflictError with the winner', async () => {
      freshPrefix();
      const writers = [store('a'), store('b'), store('c'), store('d')];
      const seeded = await writers[0]!.seedIfAbsent(new Map([['web', state(1, 100)]]));
      const base = seeded.services.get('web')!.modRevision;
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => writers[i % 4]!.put('web', state(2, i), base)));
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(19);
      const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<EtcdStateStore['put']>>>).value;
      for (const failure of lost) {
        const reason = (failure as PromiseRejectedResult).reason;
        expect(reason).toBeInstanceOf(StoreConflictError);
        expect((reason as StoreConflictError).current).toEqual(winner);
      }
      expect((await writers[1]!.loadAll()).services.get('web')).toEqual(winner);
    });

    it('refuses a stale revision and changes nothing', async () => {
      freshPrefix();
      const a = store('a');
      const first = await a.put('web', state(1, 100), 0);
      const second = await a.put('web', state(2, 0), first.modRevision);
      await expect(a.put('web', state(3, 50), first.modRevision)).rejects.toBeInstanceOf(StoreConflictError);
      await expect(a.put('web', state(3, 50), 0)).rejects.toBeInstanceOf(StoreConflictError);
      expect((await a.loadAll()).services.get('web')).toEqual(second);
    });
  });

  describe('#watch', () => {
    it("delivers another instance's puts once each, in order, with their origin (p50/p99 over 100 puts)", async () => {
      freshPrefix();
      const a = store('a');
      const b = store('b');
      const seeded = await b.seedIfAbsent(new Map([['web', state(1, 100)]]));
      const snapshot = await a.loadAll();
      const changes = new Changes();
      const arrivals = new Map<number, number>();
      a.watch(snapshot.revision + 1, (change) => {
        if (change.kind === 'service') arrivals.set(change.value?.state.generation ?? 0, performance.now());
        changes.push(change);
      });
      let revision = seeded.services.get('web')!.modRevision;
      const delays: number[] = [];
      for (let generation = 2; generation <= 101; generation++) {
        const started = performance.now();
        revision = (await b.put('web', state(generation, generation % 2 ? 100 : 0), revision)).modRevision;
        await changes.next((c) => c.kind === 'service' && c.value?.state.generation === generation);
        delays.push((arrivals.get(generation) ?? 0) - started);
      }
      const services = changes.seen.filter((c) => c.kind === 'service');
      expect(services.map((c) => (c.kind === 'service' ? c.value?.state.generation : 0))).toEqual(Array.from({ length: 100 }, (_, i) => i + 2));
      expect(services.every((c) => c.kind === 'service' && c.value?.origin === 'b')).toBe(true);
      delays.sort((x, y) => x - y);
      const p50 = delays[49]!;
      const p99 = delays[98]!;
      process.stdout.write(`etcd watch propagation, put on B to change on A, 100 puts: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms\n`);
    });

    it('does not report its own writes, even when the watch event beats the answer to the write', async () => {
      freshPrefix();
      const a = store('a');
      const b = store('b');
      const snapshot = await a.loadAll();
      const changes = new Changes();
      a.watch(snapshot.revision + 1, changes.push);
      // Many writes from A while it watches: etcd often pushes the watch event before the
      // txn's answer reaches A; each must still be recognised as A's own.
      let own = 0;
      for (let generation = 1; generation <= 30; generation++) own = (await a.put('web', state(generation, 100), own)).modRevision;
      await a.putCert('site', 'CERT', 'KEY');
      await a.deleteCert('site');
      const other = await b.put('api', state(1, 100), 0);
      await changes.next((c) => c.kind === 'service' && c.name === 'api');
      expect(changes.seen.map((c) => (c.kind === 'service' ? [c.name, c.revision] : c.kind))).toEqual([['api', other.modRevision]]);
    });

    it('reports certificates added and deleted through another instance', async () => {
      freshPrefix();
      const a = store('a');
      const b = store('b');
      const changes = new Changes();
      a.watch((await a.loadAll()).revision + 1, changes.push);
      const put = await b.putCert('site', 'CERT PEM', 'KEY PEM');
      const added = await changes.next((c) => c.kind === 'cert' && c.value !== undefined);
      expect(added).toEqual({ kind: 'cert', name: 'site', value: put, revision: put.modRevision });
      expect(await a.listCerts()).toEqual(new Map([['site', put]]));
      expect(await b.deleteCert('site')).toBe(true);
      expect(await b.deleteCert('site')).toBe(false);
      const removed = await changes.next((c) => c.kind === 'cert' && c.value === undefined);
      expect(removed).toMatchObject({ kind: 'cert', name: 'site' });
      expect((await a.listCerts()).size).toBe(0);
      expect((await a.loadAll()).certs.size).toBe(0);
    });

    it('reports a compacted start revision as a full reload and keeps watching after it', async () => {
      freshPrefix();
      const a = store('a');
      const b = store('b');
      const first = await b.put('web', state(1, 100), 0);
      const second = await b.put('web', state(2, 0), first.modRevision);
      await gateway(fleet.etcd.first.clientUrl, '/kv/compaction', { revision: String(second.modRevision), physical: true });
      const changes = new Changes();
      a.watch(first.modRevision, changes.push);
      const reload = await changes.next((c) => c.kind === 'reload');
      expect(reload.kind === 'reload' && reload.compactRevision).toBe(second.modRevision);
      expect(reload.kind === 'reload' && reload.snapshot.services.get('web')).toEqual(second);
      const third = await b.put('web', state(3, 100), second.modRevision);
      const after = await changes.next((c) => c.kind === 'service');
      expect(after).toEqual({ kind: 'service', name: 'web', value: third, revision: third.modRevision });
    });
  });

  describe('local cache', () => {
    it("holds every change the instance saw, its own and others', for a start while etcd is down", async () => {
      freshPrefix();
      const cachePath = join(mkdtempSync(join(tmpdir(), 'switchyard-cache-')), 'state.json');
      const a = store('a', { cachePath });
      const b = store('b');
      const changes = new Changes();
      a.watch((await a.loadAll()).revision + 1, changes.push);
      await a.put('web', state(1, 100), 0);
      await b.put('api', state(4, 0), 0);
      await changes.next((c) => c.kind === 'service' && c.name === 'api');
      await a.flushCache();
      const reopened = store('a2', { endpoints: ['http://127.0.0.1:1'], cachePath });
      expect(await reopened.loadCache()).toEqual({ version: 1, services: { web: state(1, 100), api: state(4, 0) } });
    });
  });

  describe('errors', () => {
    it('fails with STORE_UNAVAILABLE at once when no endpoint listens', async () => {
      freshPrefix();
      const down = store('a', { endpoints: ['http://127.0.0.1:1', 'http://127.0.0.1:2'] });
      const started = Date.now();
      const error = await storeUnavailable(down.loadAll());
      expect(error.status).toBe(503);
      expect(down.connected).toBe(false);
      expect(Date.now() - started).toBeLessThan(2000);
    });
  });
});
