/**
 * A listener's default certificate at start: generated self-signed when it is missing, so
 * `https://localhost` works out of the box. Apart from the store because it is a start-up
 * policy written against the store's public methods, not a part of how the store changes.
 */

import { SwitchyardError } from '../errors.js';
import type { CertificateInfo } from './certificate-table.js';

/** What `ensureSelfSigned` uses of the certificate store. */
export interface SelfSignedTarget {
  has(name: string): boolean;
  loadError(name: string): string | undefined;
  addSelfSigned(name: string, hosts: string[], days: number | undefined, local: boolean): Promise<{ info: CertificateInfo }>;
}

/**
 * At start: when the certificate `name` (a listener's default_cert) is missing, generates a
 * self-signed one for `hosts` (e.g. LOCALHOST_NAMES) and returns its info; returns
 * undefined when it exists. Refuses (400 INVALID_CERTIFICATE) to overwrite files that
 * exist but failed to load: the operator's certificate must be fixed, not replaced.
 */
export async function ensureSelfSigned(store: SelfSignedTarget, name: string, hosts: readonly string[]): Promise<CertificateInfo | undefined> {
  if (store.has(name)) return undefined;
  const failure = store.loadError(name);
  if (failure !== undefined) {
    throw new SwitchyardError(
      'INVALID_CERTIFICATE',
      `certificate "${name}" exists in the certificate directory but cannot be loaded (${failure}); fix or remove its files`,
    );
  }
  const { info } = await store.addSelfSigned(name, [...hosts], undefined, true);
  return info;
}
