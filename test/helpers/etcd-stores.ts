import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { SwitchyardError } from '../../src/errors.js';
import { EtcdStateStore, type EtcdStateStoreOptions } from '../../src/state/etcd/store.js';
import { type EtcdCluster, startEtcd } from './etcd.js';

/** One etcd for a describe block, and the stores its tests open. */
export interface EtcdStores {
  /** The block's etcd (started in beforeAll). */
  readonly etcd: EtcdCluster;
  /** The current test's key prefix (see freshPrefix). */
  readonly prefix: string;
  /** Gives the test a prefix of its own on the shared etcd, and returns it. */
  freshPrefix(): string;
  /** A store of instance `id` on the current prefix (or `extra.prefix`), closed when the test ends. */
  store(id: string, extra?: Partial<EtcdStateStoreOptions>): EtcdStateStore;
}

/**
 * Call inside a describe: starts one etcd for the block (destroyed after it); after each
 * test closes the stores it opened and leaves etcd running (restarted, resumed, healthy)
 * for the next. `prefixFor(n)` names the n-th test prefix; `defaults` go to every store.
 */
export function useEtcdStores(prefixFor: (n: number) => string, defaults: Partial<EtcdStateStoreOptions> = {}): EtcdStores {
  let etcd: EtcdCluster | undefined;
  let count = 0;
  let prefix = '';
  const open: EtcdStateStore[] = [];
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await etcd?.destroy();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
    if (etcd === undefined) return;
    if (!etcd.first.running) etcd.first.restart();
    etcd.first.resume();
    await etcd.first.waitHealthy();
  });
  const started = (): EtcdCluster => {
    if (etcd === undefined) throw new Error('etcd is not started yet (use the stores inside a test)');
    return etcd;
  };
  return {
    get etcd() {
      return started();
    },
    get prefix() {
      return prefix;
    },
    freshPrefix() {
      prefix = prefixFor(++count);
      return prefix;
    },
    store(id, extra = {}) {
      const created = new EtcdStateStore({ endpoints: started().endpoints, prefix, instanceId: id, ...defaults, ...extra });
      open.push(created);
      return created;
    },
  };
}

/** Awaits `work`, which must reject with STORE_UNAVAILABLE, and returns that error. */
export async function storeUnavailable(work: Promise<unknown>): Promise<SwitchyardError> {
  const error = await work.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(SwitchyardError);
  expect((error as SwitchyardError).code).toBe('STORE_UNAVAILABLE');
  return error as SwitchyardError;
}
