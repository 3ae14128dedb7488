import { generateKeyPair, randomBytes, sign, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import type * as Forge from 'node-forge';
import { SwitchyardError } from '../errors.js';

// node-forge is CommonJS whose typings declare no default export, and Node's ESM named
// exports of it are empty (its index re-exports through assignments the CJS lexer cannot see).
const forge = createRequire(import.meta.url)('node-forge') as typeof Forge;

/** Validity of a generated certificate when none is asked for: one year. */
export const DEFAULT_SELF_SIGNED_DAYS = 365;
/** Longest validity that can be asked for. */
export const MAX_SELF_SIGNED_DAYS = 3650;
/** Most hosts one generated certificate may name. */
export const MAX_SELF_SIGNED_HOSTS = 100;
/** The names a local default certificate covers (the demo's `https://localhost:9001`). */
export const LOCALHOST_NAMES: readonly string[] = ['localhost', '127.0.0.1', '::1'];

/** Options of a generated certificate. */
export interface SelfSignedOptions {
  /** Days of validity from `now` (default 365). */
  readonly days?: number;
  /** Start of validity, less one hour for clock skew (default: now; tests move it). */
  readonly now?: Date;
}

/** A generated certificate and its key, as PEM. */
export interface GeneratedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

/** An RSA key pair as node:crypto key objects. */
export interface RsaKeyPair {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

const generateKeyPairAsync = promisify(generateKeyPair);
const signAsync = promisify(sign);
const HOST_NAME = /^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;
const CLOCK_SKEW_MS = 60 * 60 * 1000;

/** forge computes the TBSCertificate we sign ourselves; its typings leave the function out. */
const pki = forge.pki as typeof Forge.pki & { getTBSCertificate(cert: Forge.pki.Certificate): Forge.asn1.Asn1 };

/** Lower-cases, de-duplicates and checks hosts; throws 400 INVALID_BODY with the bad one. */
export function normalizeHosts(hosts: readonly string[]): string[] {
  if (hosts.length === 0) throw new SwitchyardError('INVALID_BODY', 'at least one host is required');
  if (hosts.length > MAX_SELF_SIGNED_HOSTS) throw new SwitchyardError('INVALID_BODY', `at most ${MAX_SELF_SIGNED_HOSTS} hosts are allowed`);
  const out = new Set<string>();
  for (const raw of hosts) {
    const host = raw.trim();
    if (isIP(host)) out.add(host);
    else if (host.length <= 253 && HOST_NAME.test(host.toLowerCase())) out.add(host.toLowerCase());
    else throw new SwitchyardError('INVALID_BODY', `"${raw}" is not a host name (optionally "*.") or an IP address`);
  }
  return [...out];
}

/** forge's form of a public key, converted once per key (bulk signing reuses one key). */
const forgeKeys = new WeakMap<KeyObject, Forge.pki.PublicKey>();
function forgePublicKey(key: KeyObject): Forge.pki.PublicKey {
  let converted = forgeKeys.get(key);
  if (!converted) {
    converted = pki.publicKeyFromPem(key.export({ type: 'spki', format: 'pem' }).toString());
    forgeKeys.set(key, converted);
  }
  return converted;
}

/** A random positive 128-bit serial (RFC 5280 §4.1.2.2: positive, at most 20 octets). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString('hex');
}

/**
 * Signs a self-signed certificate for `hosts` with an existing RSA key: a SAN entry per
 * host (DNS name, or IP address for IP literals), CN = the first host, serverAuth only.
 * forge builds the certificate; node:crypto signs it on the thread pool, so the event loop
 * never runs RSA arithmetic. Exported so tests can sign many certificates with one key.
 */
export async function signSelfSigned(keys: RsaKeyPair, hosts: readonly string[], notBefore: Date, notAfter: Date): Promise<string> {
  const names = normalizeHosts(hosts);
  const cert = pki.createCertificate();
  cert.publicKey = forgePublicKey(keys.publicKey);
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  const subject = [{ name: 'commonName', value: (names[0] as string).slice(0, 64) }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: names.map((host) => (isIP(host) ? { type: 7, ip: host } : { type: 2, value: host })) },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.siginfo.algorithmOid = pki.oids.sha256WithRSAEncryption as string;
  cert.signatureOid = pki.oids.sha256WithRSAEncryption as string;
  const tbs = pki.getTBSCertificate(cert);
  cert.tbsCertificate = tbs;
  const signature = await signAsync('sha256', Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary'), keys.privateKey);
  cert.signature = signature.toString('binary');
  return pki.certificateToPem(cert);
}

/**
 * Generates an RSA-2048 key (on the thread pool, never blocking the event loop) and a
 * self-signed certificate for `hosts`, valid from an hour ago for `days` days.
 * RSA rather than ECDSA because forge can only encode RSA public keys.
 */
export async function generateSelfSigned(hosts: readonly string[], options: SelfSignedOptions = {}): Promise<GeneratedCertificate> {
  const days = options.days ?? DEFAULT_SELF_SIGNED_DAYS;
  if (!Number.isInteger(days) || days < 1 || days > MAX_SELF_SIGNED_DAYS) {
    throw new SwitchyardError('INVALID_BODY', `days must be an integer from 1 to ${MAX_SELF_SIGNED_DAYS}`);
  }
  normalizeHosts(hosts);
  const now = (options.now ?? new Date()).getTime();
  const keys = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  const certPem = await signSelfSigned(keys, hosts, new Date(now - CLOCK_SKEW_MS), new Date(now + days * 86_400_000));
  return { certPem, keyPem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
