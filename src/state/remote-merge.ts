import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { ServiceState } from '../routing/service-state.js';
import { reconcile } from './reconcile.js';
import type { VersionedState } from './state-store.js';

/**
 * Which state stored elsewhere goes live here, decided as a pure function of this
 * instance's states and versions (the controller then rebuilds once and publishes the
 * events of what changed, remote-events.ts).
 */

/**
 * How stored state is weighed against this instance's. `newer` (the watch): a change
 * applies when its version is above this instance's; `current` (what a lost commit was
 * told) and `all` (the store's whole state, every configured service): whenever the
 * version differs, the store wins.
 */
export type MergeMode = 'newer' | 'current' | 'all';

/** This instance's states and versions with the stored changes in, and which services changed. */
export interface Merged {
  readonly states: Map<string, ServiceState>;
  readonly versions: Map<string, number>;
  /** The services whose state changed, with what the store holds (undefined: the config applies again). */
  readonly changed: { readonly name: string; readonly stored: VersionedState | undefined }[];
}

/**
 * Merges stored `changes` into copies of `states` and `versions` by `mode`. Undefined
 * means the store holds nothing for the service, so the config applies again. Services
 * `config` does not declare are left to the instances that serve them; a change whose
 * state is already served (a cache that matched etcd) moves only the version.
 */
export function mergeStored(
  config: Config,
  states: ReadonlyMap<string, ServiceState>,
  versions: ReadonlyMap<string, number>,
  changes: ReadonlyMap<string, VersionedState | undefined>,
  mode: MergeMode,
  log: Logger,
): Merged {
  const merged: Merged = { states: new Map(states), versions: new Map(versions), changed: [] };
  const names = mode === 'all' ? config.services.map((s) => s.name) : [...changes.keys()];
  for (const name of names) {
    const service = config.services.find((s) => s.name === name);
    if (!service) continue;
    const stored = changes.get(name);
    const local = merged.versions.get(name) ?? 0;
    if (stored) {
      if (mode === 'newer' ? stored.version <= local : stored.version === local) continue;
      merged.versions.set(name, stored.version);
      const state = reconcile(service, stored.state, log);
      // Already served as it is (a cache that matched etcd): only the version is news.
      if (isDeepStrictEqual(state, merged.states.get(name))) continue;
      merged.states.set(name, state);
    } else {
      merged.versions.delete(name);
      if (!merged.states.has(name)) continue;
      merged.states.delete(name);
    }
    merged.changed.push({ name, stored });
  }
  return merged;
}
