import { SwitchyardError } from '../errors.js';

/**
 * Certificate names: letters, digits, `_`, `.` and `-`, not starting with a dot (so
 * neither `..` nor hidden files), at most 128 characters. A name is also a file name in
 * `certs_dir`, so nothing else may pass.
 */
export const CERTIFICATE_NAME_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

/** True when `name` can name a certificate. */
export function isCertificateName(name: string): boolean {
  return CERTIFICATE_NAME_PATTERN.test(name);
}

/** Throws 400 INVALID_BODY unless `name` can name a certificate. */
export function assertCertificateName(name: string): void {
  if (!isCertificateName(name)) {
    throw new SwitchyardError('INVALID_BODY', `certificate name "${name}" must be 1-128 letters, digits, "_", "." or "-", not starting with "."`);
  }
}
