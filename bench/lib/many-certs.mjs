// Writes `count` distinct certificates h<i>.bench.local into a switchyard certs_dir, all
// signed with one RSA key (key generation is not what the scaling case measures).
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { signSelfSigned } from '../../dist/tls/self-signed.js';

export async function writeManyCerts(dir, count) {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const notBefore = new Date(Date.now() - 86_400_000);
  const notAfter = new Date(Date.now() + 30 * 86_400_000);
  for (let i = 0; i < count; i += 500) {
    const batch = Array.from({ length: Math.min(500, count - i) }, (_, j) => i + j);
    const pems = await Promise.all(batch.map((n) => signSelfSigned(keys, [`h${n}.bench.local`], notBefore, notAfter)));
    await Promise.all(batch.flatMap((n, j) => [writeFile(join(dir, `h${n}.crt`), pems[j]), writeFile(join(dir, `h${n}.key`), keyPem, { mode: 0o600 })]));
  }
}
