import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { pino, type Logger } from 'pino';

/** A PEM certificate (or chain) and its key. */
export interface Pem {
  certPem: string;
  keyPem: string;
}

const dirs: string[] = [];

/** A fresh temporary directory, removed by `removeTempDirs`. */
export function tempDir(prefix = 'switchyard-tls-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Removes every directory `tempDir` made. */
export function removeTempDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  workDir = undefined;
}

/** A logger whose JSON lines are kept in `lines` (pino numeric levels: 40 warn, 50 error). */
export function captureLogger(): { log: Logger; lines: { level: number; msg: string; [key: string]: unknown }[] } {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
  return { log, lines };
}

let workDir: string | undefined;
function opensslDir(): string {
  if (!workDir) {
    workDir = tempDir('switchyard-openssl-');
    // A config without the default v3_ca section, so only -addext extensions are written.
    writeFileSync(join(workDir, 'min.cnf'), '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n');
  }
  return workDir;
}

let serial = 0;

/** Options of an openssl-made certificate. */
export interface OpensslCertOptions {
  key?: 'rsa' | 'ec' | 'rsa1024';
  hosts?: string[];
  cn?: string;
  days?: number;
  /** Sign with this CA instead of self-signing. */
  issuer?: Pem;
  /** Make a CA certificate. */
  ca?: boolean;
}

/** A certificate made by the openssl CLI, the way an operator would make one. */
export function opensslCert(options: OpensslCertOptions = {}): Pem {
  const dir = opensslDir();
  const id = ++serial;
  const keyFile = join(dir, `${id}.key`);
  const certFile = join(dir, `${id}.crt`);
  const newkey = { rsa: ['-newkey', 'rsa:2048'], rsa1024: ['-newkey', 'rsa:1024'], ec: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] }[
    options.key ?? 'ec'
  ];
  const args = ['req', '-config', join(dir, 'min.cnf'), '-x509', ...newkey, '-nodes', '-keyout', keyFile, '-out', certFile];
  args.push('-days', String(options.days ?? 30), '-subj', `/CN=${options.cn ?? options.hosts?.[0] ?? 'switchyard test'}`);
  if (options.hosts?.length) args.push('-addext', `subjectAltName=${options.hosts.map((h) => `DNS:${h}`).join(',')}`);
  if (options.ca) args.push('-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  if (options.issuer) {
    const caCert = join(dir, `${id}-ca.crt`);
    const caKey = join(dir, `${id}-ca.key`);
    writeFileSync(caCert, options.issuer.certPem);
    writeFileSync(caKey, options.issuer.keyPem);
    args.push('-CA', caCert, '-CAkey', caKey);
  }
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
}

/** root CA → intermediate CA → leaf (RSA) for `chain.test` and `*.chain.test`. */
export function opensslChain(): { root: Pem; intermediate: Pem; leaf: Pem } {
  const root = opensslCert({ cn: 'Test Root', ca: true });
  const intermediate = opensslCert({ cn: 'Test Intermediate', ca: true, issuer: root });
  const leaf = opensslCert({ key: 'rsa', hosts: ['chain.test', '*.chain.test'], issuer: intermediate });
  return { root, intermediate, leaf };
}

/** The `AB:CD:…` SHA-256 fingerprint of the first certificate of a PEM. */
export function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** A TLS handshake to 127.0.0.1:port; resolves with the connected socket, rejects on handshake error. */
export function handshake(port: number, options: ConnectionOptions = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** The fingerprint the server presented, after closing the socket. */
export async function servedFingerprint(port: number, options: ConnectionOptions = {}): Promise<string> {
  const socket = await handshake(port, options);
  const fingerprint = socket.getPeerCertificate().fingerprint256;
  socket.destroy();
  return fingerprint;
}
