// One self-signed ECDSA certificate for localhost, shared by every TLS peer.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes `<dir>/bench.crt`, `<dir>/bench.key` (PKCS#8, what switchyard's certs_dir
 * holds) and `<dir>/bench.pem` (chain + key, what HAProxy wants). Needs openssl.
 */
export function makeCert(dir) {
  mkdirSync(dir, { recursive: true });
  const crt = join(dir, 'bench.crt');
  const key = join(dir, 'bench.key');
  const pem = join(dir, 'bench.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '30',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      crt,
    ],
    { stdio: 'ignore' },
  );
  writeFileSync(pem, readFileSync(crt, 'utf8') + readFileSync(key, 'utf8'));
  return { crt, key, pem };
}
