import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import { messageOf, SwitchyardError } from '../errors.js';
import { type PemBlock, scanPem } from './pem.js';

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
export const MAX_CHAIN = 10;
/** Most PEM blocks read from either field (certificates, key, EC parameters, strays). */
export const MAX_PEM_BLOCKS = 16;
/**
 * Largest RSA modulus in an uploaded chain. A 16384-bit key (OpenSSL's own cap) costs 8 ms
 * of event loop per signature check and, as a leaf, 450 ms per handshake it signs (8192
 * bits: 1.6 ms and 36 ms); no public CA issues keys above 4096 bits.
 */
export const MAX_RSA_BITS = 8192;
/**
 * Largest RSA public exponent, in bits. OpenSSL accepts any exponent on moduli up to 3072
 * bits, which turns one signature check into a 4 ms private-key-sized operation; CAs use
 * 65537, and Windows CryptoAPI cannot use exponents above 32 bits.
 */
export const MAX_RSA_EXPONENT_BITS = 32;
/**
 * Longest PEM text of one certificate of an upload, in characters: room for ~1,600 host
 * names. Parsing a certificate and listing its names grows with its size; without a cap
 * one 750 KB leaf held the event loop for ~60 ms in a single step.
 */
export const MAX_CERTIFICATE_PEM = 65_536;

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

/**
 * Refuses keys whose signature checks would stall the event loop (see MAX_RSA_BITS,
 * MAX_RSA_EXPONENT_BITS), and DSA, which CAs stopped using years ago and whose checks
 * run modular exponentiations over primes of up to 10,000 bits.
 */
function checkVerifyCost(cert: X509Certificate, index: number): void {
  const key = cert.publicKey;
  const type = key.asymmetricKeyType;
  if (type === 'dsa') invalid(`${describe(cert, index)} has a DSA key; DSA keys are not supported`);
  if (type !== 'rsa' && type !== 'rsa-pss') return;
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits > MAX_RSA_BITS) invalid(`${describe(cert, index)} has a ${bits}-bit RSA key; at most ${MAX_RSA_BITS} bits are accepted`);
  const exponent = key.asymmetricKeyDetails?.publicExponent ?? 0n;
  if (exponent >= 1n << BigInt(MAX_RSA_EXPONENT_BITS)) {
    invalid(`${describe(cert, index)} has an RSA public exponent over ${MAX_RSA_EXPONENT_BITS} bits; use 65537`);
  }
}

/** The PEM blocks of one field, or 400 INVALID_CERTIFICATE naming the field. */
function blocksOf(field: 'cert' | 'key', pem: string): PemBlock[] {
  const scan = scanPem(pem, MAX_PEM_BLOCKS);
  return scan.ok ? scan.blocks : invalid(`the ${field} is not clean PEM: ${scan.reason}`);
}

/** The one private key block of the key field (SEC1 keys may come after an EC PARAMETERS block). */
function parseKey(keyPem: string): KeyObject {
  const blocks = blocksOf('key', keyPem).filter((block) => block.label.endsWith('PRIVATE KEY'));
  if (blocks.length === 0) invalid('the key does not parse (PEM, unencrypted): no "-----BEGIN … PRIVATE KEY-----" block found');
  if (blocks.length > 1) invalid(`the key holds ${blocks.length} private keys; exactly one is expected`);
  const block = blocks[0] as PemBlock;
  if (block.label === 'ENCRYPTED PRIVATE KEY') invalid('the key is encrypted; upload it unencrypted (it is stored with mode 0600)');
  try {
    return createPrivateKey(block.text);
  } catch (err) {
    return invalid(`the key does not parse (PEM, unencrypted): ${messageOf(err)}`);
  }
}

/**
 * The checks of `validateCertificate`, one bounded piece of work between yields: splitting
 * the PEM, parsing one certificate, the key, one signature check, the host names, the TLS
 * context. Returns the result, throws 400 INVALID_CERTIFICATE with the reason.
 */
function* validation(certPem: string, keyPem: string, options: ValidateOptions): Generator<void, ValidCertificate> {
  // Other blocks (a key pasted along, TRUSTED CERTIFICATE) are ignored, as they always were.
  const blocks = blocksOf('cert', certPem)
    .filter((block) => block.label === 'CERTIFICATE')
    .map((block) => block.text);
  if (blocks.length === 0) invalid('no PEM certificate ("-----BEGIN CERTIFICATE-----") found');
  if (blocks.length > MAX_CHAIN) invalid(`the chain has ${blocks.length} certificates; at most ${MAX_CHAIN} are accepted`);
  yield;
  const chain: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    // Files in certs_dir were checked when they were uploaded; refusing them now would take their hosts' certificate away.
    if (!options.fromDisk && block.length > MAX_CERTIFICATE_PEM) {
      invalid(`certificate ${i + 1} is ${block.length} characters of PEM; at most ${MAX_CERTIFICATE_PEM} are accepted`);
    }
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(block);
    } catch (err) {
      return invalid(`certificate ${i + 1} does not parse: ${messageOf(err)}`);
    }
    if (!options.fromDisk) checkVerifyCost(cert, i);
    chain.push(cert);
    yield;
  }
  const leaf = chain[0] as X509Certificate;

  const key = parseKey(keyPem);
  if (!leaf.checkPrivateKey(key)) invalid('the key does not match the certificate');
  // Stored as clean PKCS#8 whatever the upload looked like (PKCS#1, SEC1, extra blocks).
  const normalizedKey = options.fromDisk ? keyPem : key.export({ type: 'pkcs8', format: 'pem' }).toString();
  checkKeyStrength(leaf.publicKey);
  yield;

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
    yield;
  }

  const hosts = hostsOf(leaf);
  yield;
  const chainPem = `${blocks.join('\n')}\n`;
  return {
    certPem: chainPem,
    keyPem: normalizedKey,
    hosts,
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
    fingerprint256: leaf.fingerprint256,
    keyType: leaf.publicKey.asymmetricKeyType ?? 'unknown',
    context: options.fromDisk ? undefined : buildContext(chainPem, normalizedKey),
  };
}

/**
 * Checks a PEM chain (leaf first) and key before anything is installed: every block
 * parses, the key matches the leaf, every certificate is inside its validity period,
 * each certificate was issued and signed by the next one, and (unless `fromDisk`) OpenSSL
 * builds a TLS context from the pair.
 * Bounded work whatever the input: PEM is split in linear time, at most MAX_CHAIN
 * certificates of at most MAX_CERTIFICATE_PEM are parsed, and keys that make a signature
 * check expensive are refused before any check runs (issue 11).
 * Throws 400 INVALID_CERTIFICATE with the reason.
 */
export function validateCertificate(certPem: string, keyPem: string, options: ValidateOptions = {}): ValidCertificate {
  const steps = validation(certPem, keyPem, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * `validateCertificate` for uploads: the same checks, giving the event loop back between
 * steps (after I/O, `setImmediate`) so proxied requests are served while a large chain is
 * parsed and verified. With the limits above no step costs more than ~12 ms (the TLS
 * context of a maximal chain of 8192-bit keys); most cost well under one.
 */
export async function validateUpload(certPem: string, keyPem: string, options: ValidateOptions = {}): Promise<ValidCertificate> {
  const steps = validation(certPem, keyPem, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await nextTurn();
  }
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
