import type { Logger } from 'pino';
import type { StateController } from './state/controller.js';
import type { FleetStateStore } from './state/etcd/fleet-store.js';
import type { CertificateStore } from './tls/store.js';

/** What following a fleet touches here. */
export interface FleetLinkParts {
  readonly controller: StateController;
  readonly certificates: CertificateStore;
  /** Certificate names that are some listener's default_cert here. */
  readonly defaultCerts: () => ReadonlySet<string>;
  readonly log: Logger;
}

/**
 * Joins this instance's state to the fleet's: certificate changes go out through etcd,
 * other instances' service and certificate changes come in (certificates installed before
 * the listeners open).
 */
export async function followFleet(fleet: FleetStateStore, { controller, certificates, defaultCerts, log }: FleetLinkParts): Promise<void> {
  certificates.replicateTo(fleet);
  await fleet.follow({
    services: (changes, full) => controller.applyRemote(changes, full),
    certificates: async (name, pem, origin, source) => {
      // Another instance's listeners decided that removal; here the certificate is a listener's default.
      if (pem === undefined && defaultCerts().has(name)) {
        log.warn({ certificate: name, origin }, 'certificate removed in the fleet is a default_cert here; kept');
        return;
      }
      await certificates.applyRemote(name, pem, origin, source);
    },
    config: () => controller.currentConfig,
  });
}
