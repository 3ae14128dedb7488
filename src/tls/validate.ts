import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import { messageOf, SwitchyardError } from '../errors.js';

/** A certificate chain and key that passed validation, with what the store and SNI need. */
export interface ValidCertificate {
  /** The chain as PEM blocks only, leaf first (text around the blocks is dropped). */
  readonly certPem: string;
  /** The private key as PEM (PKCS#8 when it came through a full check). */
  readonly keyPem: string;
  /** Lower-case host names the leaf is for: SAN DNS names, else the subject CN. */
  readonly hosts: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SHA-256 of the leaf's DER, `AB:CD:…` as `openssl x509 -fingerprint -sha256` prints it. */
  readonly fingerprint256: string;
  /** The leaf key's type as node:crypto names it: `rsa`, `ec`, `rsa-pss`, `ed25519`, … */
  readonly keyType: string;
  /**
   * The TLS context serving this pair, built once so a handshake never parses PEM;
   * undefined when validated `fromDisk` (the store builds it on first use).
   */
  readonly context: SecureContext | undefined;
}

/** How strictly to check. */
export interface ValidateOptions {
  /** The time to check validity against (default: now). */
  readonly now?: Date;
  /**
   * For files already in certs_dir: an expired or not-yet-valid certificate is loaded
   * (the caller logs it; refusing it would change which certificate its hosts get), and
   * the TLS context is left for the first handshake that needs it: building one costs
   * ~0.75 ms and tens of kilobytes, which at 10,000 certificates would more than double
   * the start time and the memory for certificates that may never be asked for.
   */
  readonly fromDisk?: boolean;
}

/** Longest chain accepted; real chains have 2-4 certificates. */
const MAX_CHAIN = 10;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----\r?\n[\s\S]*?-----END CERTIFICATE-----/g;

function invalid(reason: string): never {
  throw new SwitchyardError('INVALID_CERTIFICATE', `invalid certificate: ${reason}`);
}

/** A SAN or subject value; Node JSON-quotes values with special characters. */
function unquote(value: string): string | undefined {
  if (!value.startsWith('"')) return value;
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Host names of a leaf: its SAN DNS names (RFC 6125 §6.4.4), else its subject CN. */
export function hostsOf(cert: X509Certificate): string[] {
  const hosts = new Set<string>();
  for (const match of (cert.subjectAltName ?? '').matchAll(/(?:^|, )([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const value = match[1] === 'DNS' ? unquote(match[2] ?? '') : undefined;
    if (value) hosts.add(value.toLowerCase());
  }
  if (hosts.size === 0) {
    for (const line of cert.subject.split('\n')) {
      const value = line.startsWith('CN=') ? unquote(line.slice(3)) : undefined;
      if (value) hosts.add(value.toLowerCase());
    }
  }
  return [...hosts];
}

function describe(cert: X509Certificate, index: number): string {
  const cn = /^CN=(.*)$/m.exec(cert.subject)?.[1];
  return `certificate ${index + 1}${cn ? ` (CN=${cn})` : ''}`;
}

/** Refuses keys a TLS scanner would flag: RSA under 2048 bits, DSA. */
function checkKeyStrength(publicKey: KeyObject): void {
  const type = publicKey.asymmetricKeyType;
  if (type === 'dsa') invalid('DSA keys are not supported');
  if ((type === 'rsa' || type === 'rsa-pss') && (publicKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    invalid(`the RSA key has ${publicKey.asymmetricKeyDetails?.modulusLength ?? '?'} bits; at least 2048 are required`);
  }
}

function parseKey(keyPem: string): KeyObject {
  try {
    return createPrivateKey(keyPem);
  } catch (err) {
    return invalid(`the key does not parse (PEM, unencrypted): ${messageOf(err)}`);
  }
}

/**
 * Checks a PEM chain (leaf first) and key before anything is installed: every block
 * parses, the key matches the leaf, every certificate is inside its validity period,
 * each certificate was issued and signed by the next one, and (unless `fromDisk`) OpenSSL
 * builds a TLS context from the pair.
 * Throws 400 INVALID_CERTIFICATE with the reason.
 */
export function validateCertificate(certPem: string, keyPem: string, options: ValidateOptions = {}): ValidCertificate {
  const blocks = certPem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) invalid('no PEM certificate ("-----BEGIN CERTIFICATE-----") found');
  if (blocks.length > MAX_CHAIN) invalid(`the chain has ${blocks.length} certificates; at most ${MAX_CHAIN} are accepted`);
  const chain = blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      return invalid(`certificate ${i + 1} does not parse: ${messageOf(err)}`);
    }
  });
  const leaf = chain[0] as X509Certificate;

  const key = parseKey(keyPem);
  if (!leaf.checkPrivateKey(key)) invalid('the key does not match the certificate');
  // Stored as clean PKCS#8 whatever the upload looked like (PKCS#1, SEC1, extra blocks).
  const normalizedKey = options.fromDisk ? keyPem : key.export({ type: 'pkcs8', format: 'pem' }).toString();
  checkKeyStrength(leaf.publicKey);

  const now = (options.now ?? new Date()).getTime();
  chain.forEach((cert, i) => {
    const notBefore = new Date(cert.validFrom);
    const notAfter = new Date(cert.validTo);
    if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) invalid(`${describe(cert, i)} has an unreadable validity period`);
    if (options.fromDisk) return;
    if (notAfter.getTime() <= now) invalid(`${describe(cert, i)} expired on ${notAfter.toISOString()}`);
    if (notBefore.getTime() > now) invalid(`${describe(cert, i)} is not valid before ${notBefore.toISOString()}`);
  });

  // RFC 8446 §4.4.2: each certificate is followed by the one that certifies it.
  for (let i = 0; i + 1 < chain.length; i++) {
    const cert = chain[i] as X509Certificate;
    const issuer = chain[i + 1] as X509Certificate;
    if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) {
      invalid(`${describe(issuer, i + 1)} did not issue ${describe(cert, i)}; the chain must run leaf first, each certificate followed by its issuer`);
    }
  }

  const chainPem = `${blocks.join('\n')}\n`;
  return {
    certPem: chainPem,
    keyPem: normalizedKey,
    hosts: hostsOf(leaf),
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
    fingerprint256: leaf.fingerprint256,
    keyType: leaf.publicKey.asymmetricKeyType ?? 'unknown',
    context: options.fromDisk ? undefined : buildContext(chainPem, normalizedKey),
  };
}

/**
 * The TLS context of a chain and key; 400 INVALID_CERTIFICATE when OpenSSL refuses them.
 * It carries no protocol options: Node takes only the certificate, key and chain from an
 * SNI context, the protocol policy always comes from the listener (see policy.ts).
 */
export function buildContext(certPem: string, keyPem: string): SecureContext {
  try {
    return createSecureContext({ cert: certPem, key: keyPem });
  } catch (err) {
    const reason = messageOf(err);
    return invalid(/key values mismatch/i.test(reason) ? 'the key does not match the certificate' : `the TLS library refused the pair: ${reason}`);
  }
}
