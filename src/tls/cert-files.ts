import { readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import writeFileAtomic from 'write-file-atomic';
import { messageOf, SwitchyardError } from '../errors.js';
import { isCertificateName } from '../config/certificate-names.js';
import { validateCertificate, type ValidCertificate } from './validate.js';

/**
 * One certificate in `certs_dir` is two files: `<name>.crt` (the chain, 0644) and
 * `<name>.key` (PKCS#8, 0600). The `.crt` decides whether a certificate exists.
 */
const CERT_SUFFIX = '.crt';
const KEY_SUFFIX = '.key';
/** Certificates read at once while loading. */
const LOAD_BATCH = 64;

/** A certificate read and checked from `certs_dir`. */
export interface LoadedCertificate {
  readonly name: string;
  readonly valid: ValidCertificate;
  /** Modification time of the `.crt`, to replay the order certificates were added in. */
  readonly mtime: number;
}

async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * Writes a pair: key first, then chain, each atomically (write-file-atomic: temp file
 * created with the final mode, fsync, rename). Should the chain fail to write, the
 * previous key goes back so the pair on disk still matches; a crash between the two
 * renames leaves a mismatched pair, which the next start reports for that name.
 * Throws 500 STATE_WRITE_FAILED.
 */
export async function writeCertificateFiles(dir: string, name: string, valid: ValidCertificate, previousKeyPem: string | undefined): Promise<void> {
  const keyPath = join(dir, name + KEY_SUFFIX);
  try {
    await writeFileAtomic(keyPath, valid.keyPem, { mode: 0o600 });
  } catch (err) {
    throw new SwitchyardError('STATE_WRITE_FAILED', `the key of "${name}" could not be written: ${messageOf(err)}`);
  }
  try {
    await writeFileAtomic(join(dir, name + CERT_SUFFIX), valid.certPem, { mode: 0o644 });
  } catch (err) {
    await (previousKeyPem === undefined ? unlinkIfPresent(keyPath) : writeFileAtomic(keyPath, previousKeyPem, { mode: 0o600 })).catch(() => undefined);
    throw new SwitchyardError('STATE_WRITE_FAILED', `the certificate "${name}" could not be written: ${messageOf(err)}`);
  }
}

/**
 * Removes a pair, `.crt` first. Throws 500 STATE_WRITE_FAILED when the `.crt` stays; a
 * key file that cannot be removed is only logged (without its `.crt` it is never loaded).
 */
export async function removeCertificateFiles(dir: string, name: string, log: Logger): Promise<void> {
  try {
    await unlinkIfPresent(join(dir, name + CERT_SUFFIX));
  } catch (err) {
    throw new SwitchyardError('STATE_WRITE_FAILED', `certificate "${name}" could not be removed: ${messageOf(err)}`);
  }
  await unlinkIfPresent(join(dir, name + KEY_SUFFIX)).catch((err: unknown) =>
    log.warn({ certificate: name, err: messageOf(err) }, 'certificate removed but its key file could not be deleted'),
  );
}

async function readOne(dir: string, name: string, log: Logger): Promise<LoadedCertificate> {
  const certPath = join(dir, name + CERT_SUFFIX);
  const keyPath = join(dir, name + KEY_SUFFIX);
  const [certPem, certStat, [keyPem, keyStat]] = await Promise.all([
    readFile(certPath, 'utf8'),
    stat(certPath),
    Promise.all([readFile(keyPath, 'utf8'), stat(keyPath)]).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new Error(`missing key file ${name}${KEY_SUFFIX}`) : err;
    }),
  ]);
  if (keyStat.mode & 0o077) log.warn({ certificate: name, mode: (keyStat.mode & 0o777).toString(8) }, 'key file is readable by group or others; chmod 600 it');
  return { name, valid: validateCertificate(certPem, keyPem, { fromDisk: true }), mtime: certStat.mtimeMs };
}

/**
 * Reads and checks every certificate of `dir`, oldest `.crt` first. A pair that cannot
 * be used is logged and reported in `failed` (name → reason), never thrown: one bad file
 * must not keep every other site down.
 */
export async function readCertificateDir(dir: string, log: Logger): Promise<{ loaded: LoadedCertificate[]; failed: Map<string, string> }> {
  const names: string[] = [];
  for (const file of await readdir(dir, { withFileTypes: true })) {
    if (!file.isFile() || !file.name.endsWith(CERT_SUFFIX)) continue;
    const name = file.name.slice(0, -CERT_SUFFIX.length);
    if (isCertificateName(name)) names.push(name);
    else log.warn({ file: file.name }, 'ignoring a certificate file whose name is not a valid certificate name');
  }
  const loaded: LoadedCertificate[] = [];
  const failed = new Map<string, string>();
  for (let i = 0; i < names.length; i += LOAD_BATCH) {
    const batch = names.slice(i, i + LOAD_BATCH);
    const results = await Promise.allSettled(batch.map((name) => readOne(dir, name, log)));
    results.forEach((result, j) => {
      if (result.status === 'fulfilled') {
        loaded.push(result.value);
        return;
      }
      const name = batch[j] as string;
      failed.set(name, messageOf(result.reason));
      log.error({ certificate: name, err: messageOf(result.reason) }, 'certificate could not be loaded');
    });
  }
  // Oldest first, so that of several certificates claiming a host the newest wins, as it did before the restart.
  loaded.sort((a, b) => a.mtime - b.mtime || (a.name < b.name ? -1 : 1));
  return { loaded, failed };
}
