import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import type { VersionedState } from '../state-store.js';
import { type FleetView, versioned } from './fleet-view.js';
import type { StoredCert } from './records.js';
import type { StoreChange } from './store-watch.js';

/**
 * How what etcd holds goes live on this instance: a change from the watch, or etcd's whole
 * state after a compaction, is handed to the sinks (the controller for the services, the
 * certificate store for certificates) with the fleet's view kept in step. Apart from the
 * fleet store, which decides when the watch runs and publishes what this instance serves.
 */

/** Where changes made elsewhere in the fleet go. */
export interface FleetSinks {
  /** The services' state (`full`: the store's whole state, which wins); resolves once it is live here. */
  readonly services: (changes: ReadonlyMap<string, VersionedState | undefined>, full: boolean) => Promise<void>;
  /** Certificates (undefined: removed). */
  readonly certificates: (
    name: string,
    pem: { cert: string; key: string } | undefined,
    origin: string | undefined,
    source: StoredCert['source'],
  ) => Promise<void>;
  /** The config now running (which services this instance seeds). */
  readonly config: () => Config;
}

/** Applies one change from the watch; resolves with the store revision this instance now serves, or undefined when it serves no new one. */
export async function applyChange(change: StoreChange, sinks: FleetSinks, view: FleetView, log: Logger): Promise<number | undefined> {
  switch (change.kind) {
    case 'service': {
      const value = change.value && versioned(change.value);
      view.set(change.name, value);
      await sinks.services(new Map([[change.name, value]]), false);
      return change.revision;
    }
    case 'cert':
      await sinks.certificates(change.name, change.value && { cert: change.value.cert, key: change.value.key }, change.value?.origin, change.value?.source);
      return undefined;
    case 'reload': {
      // The watch fell behind etcd's compaction: etcd's whole state wins.
      log.warn({ compactRevision: change.compactRevision, revision: change.snapshot.revision }, 'etcd compacted past this instance: reloading its whole state');
      await sinks.services(view.replace(change.snapshot.services), true);
      await installCerts(sinks, change.snapshot.certs);
      return change.snapshot.revision;
    }
    case 'member':
      return undefined;
    default: {
      const never: never = change;
      return never;
    }
  }
}

/** Installs every certificate of a full read of etcd, one after the other. */
export async function installCerts(sinks: FleetSinks, certs: ReadonlyMap<string, StoredCert>): Promise<void> {
  for (const [name, cert] of certs) await sinks.certificates(name, { cert: cert.cert, key: cert.key }, cert.origin, cert.source);
}
