import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import writeFileAtomic from 'write-file-atomic';
import { isCertificateName } from '../config/certificate-names.js';
import { messageOf } from '../errors.js';

/** Where a certificate came from, as `cert list` shows it. */
export type CertificateSource = 'uploaded' | 'self-signed' | 'acme';

/**
 * `<name>.meta.json` beside `<name>.crt` records where a certificate came from, so a
 * restart knows which certificates ACME renews. Uploads write none (a missing file means
 * `uploaded`, which also covers every certificate from before sources were kept), so a
 * directory of 10,000 uploaded certificates costs nothing more to load.
 */
const META_SUFFIX = '.meta.json';

const SOURCES: ReadonlySet<string> = new Set<CertificateSource>(['uploaded', 'self-signed', 'acme']);

/** Records `source` for `name` (removing the record for `uploaded`). Never throws: a lost record only changes what is shown after a restart. */
export async function writeCertificateSource(dir: string, name: string, source: CertificateSource, log: Logger): Promise<void> {
  const path = join(dir, name + META_SUFFIX);
  try {
    if (source === 'uploaded') await unlink(path);
    else await writeFileAtomic(path, `${JSON.stringify({ source })}\n`, { mode: 0o644 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.error({ certificate: name, err: messageOf(err) }, 'certificate source could not be recorded');
  }
}

/** Reads every `<name>.meta.json` of `dir`: name → source. Unreadable or unknown records are logged and left out (`uploaded`). */
export async function readCertificateSources(dir: string, log: Logger): Promise<Map<string, CertificateSource>> {
  const sources = new Map<string, CertificateSource>();
  for (const file of await readdir(dir, { withFileTypes: true })) {
    if (!file.isFile() || !file.name.endsWith(META_SUFFIX)) continue;
    const name = file.name.slice(0, -META_SUFFIX.length);
    if (!isCertificateName(name)) continue;
    try {
      const parsed = JSON.parse(await readFile(join(dir, file.name), 'utf8')) as { source?: unknown };
      if (typeof parsed.source === 'string' && SOURCES.has(parsed.source)) sources.set(name, parsed.source as CertificateSource);
      else log.warn({ file: file.name }, 'ignoring a certificate record with an unknown source');
    } catch (err) {
      log.warn({ file: file.name, err: messageOf(err) }, 'ignoring an unreadable certificate record');
    }
  }
  return sources;
}
