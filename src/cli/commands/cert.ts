import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { AcmeStatus } from '../../acme/manager.js';
import type { CertificateInfo } from '../../tls/store.js';
import type { AdminClient } from '../admin-client.js';
import { runCall, UsageError } from '../run.js';

/** A certificate as `GET /v1/certificates` lists it. */
export type ListedCertificate = CertificateInfo & { next_renewal?: string | null };

/** Human form of the certificate list for `cert list`. */
export function formatCertificates(certificates: readonly ListedCertificate[]): string {
  if (certificates.length === 0) return 'no certificates';
  return certificates
    .map((c) =>
      [
        `${c.name}${c.expires_soon ? '  EXPIRES SOON' : ''}`,
        `  hosts:      ${c.hosts.join(', ') || '(none)'}`,
        `  valid:      ${c.not_before} .. ${c.not_after}`,
        `  sha256:     ${c.fingerprint256}`,
        `  source:     ${c.source ?? 'uploaded'}`,
        ...(c.next_renewal ? [`  renews:     ${c.next_renewal}`] : []),
      ].join('\n'),
    )
    .join('\n');
}

/** What `cert add` and `cert self-signed` print about the installed certificate. */
export function formatInstalled(info: CertificateInfo, what: string): string {
  return [
    `${what} "${info.name}" for ${info.hosts.join(', ')}`,
    `  valid until ${info.not_after}${info.expires_soon ? '  (EXPIRES SOON)' : ''}`,
    '',
    '  SHA-256 fingerprint:',
    `  ${info.fingerprint256}`,
  ].join('\n');
}

async function readPem(path: string, option: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${option} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `cert list`, `cert add`, `cert self-signed`, `cert acme`. */
export function registerCertCommands(program: Command, getClient: () => AdminClient): void {
  const cert = program.command('cert').description('list, upload and generate TLS certificates');

  cert
    .command('list')
    .description('certificates with hosts, validity and SHA-256 fingerprint')
    .option('--json', 'print the API JSON')
    .action((opts: { json?: boolean }) =>
      runCall(async () => {
        const result = await getClient().call<{ certificates: ListedCertificate[] }>('GET', '/v1/certificates');
        return opts.json ? JSON.stringify(result, null, 2) : formatCertificates(result.certificates);
      }),
    );

  cert
    .command('add <name>')
    .description('upload a PEM certificate (chain allowed, leaf first) and key; replaces one of the same name')
    .requiredOption('--cert <file>', 'PEM certificate or chain')
    .requiredOption('--key <file>', 'PEM private key (unencrypted)')
    .action((name: string, opts: { cert: string; key: string }) =>
      runCall(async () => {
        const [certPem, keyPem] = await Promise.all([readPem(opts.cert, '--cert'), readPem(opts.key, '--key')]);
        const { certificate } = await getClient().call<{ certificate: CertificateInfo }>('POST', '/v1/certificates', { name, cert: certPem, key: keyPem });
        return formatInstalled(certificate, 'installed certificate');
      }),
    );

  cert
    .command('self-signed <name>')
    .description('generate and install a self-signed certificate')
    .option('--host <host>', 'host name or IP address it is for (repeat for more)', collect, [])
    .option('--days <days>', 'days of validity (default 365)')
    .action((name: string, opts: { host: string[]; days?: string }) =>
      runCall(async () => {
        if (opts.host.length === 0) throw new UsageError('give at least one --host');
        if (opts.days !== undefined && !/^\d+$/.test(opts.days)) throw new UsageError(`--days must be a whole number, got "${opts.days}"`);
        const body = { name, hosts: opts.host, ...(opts.days === undefined ? {} : { days: Number(opts.days) }) };
        const { certificate } = await getClient().call<{ certificate: CertificateInfo }>('POST', '/v1/certificates/self-signed', body);
        // Operators record the fingerprint to recognise this certificate (and a man-in-the-middle).
        return `${formatInstalled(certificate, 'installed self-signed certificate')}\n\n  Record this fingerprint: clients can pin it or compare it on first connect.`;
      }),
    );

  cert
    .command('acme <name>')
    .description('obtain a certificate from the configured ACME CA (http-01 on the plain listeners) and keep it renewed')
    .option('--host <host>', 'host name it is for (repeat for more; no wildcards)', collect, [])
    .action((name: string, opts: { host: string[] }) =>
      runCall(async () => {
        if (opts.host.length === 0) throw new UsageError('give at least one --host');
        const { certificate } = await getClient().call<{ certificate: AcmeStatus }>('POST', '/v1/certificates/acme', { name, hosts: opts.host });
        return [
          `ACME order accepted for "${certificate.name}" (${certificate.hosts.join(', ')})`,
          '  it is installed once the CA has validated every host; `switchyard cert list` shows it then',
        ].join('\n');
      }),
    );
}
