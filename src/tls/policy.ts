import { constants } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';

/** TLS 1.3 suites of Mozilla "intermediate" (https://ssl-config.mozilla.org/, guidelines v5.7). */
const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];
/**
 * TLS 1.2 suites of Mozilla intermediate, by the certificate type they need. The DHE-RSA
 * suites of that list are left out: they need a dhparam file, and every client that has
 * them also has ECDHE.
 */
const TLS12_ECDSA_SUITES = ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305'];
const TLS12_RSA_SUITES = ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305'];
/** Signature schemes (no SHA-1 or SHA-224), by certificate type. */
const ECDSA_SIGALGS = ['ecdsa_secp256r1_sha256', 'ecdsa_secp384r1_sha384', 'ecdsa_secp521r1_sha512'];
const EDDSA_SIGALGS = ['ed25519', 'ed448'];
const RSA_SIGALGS = [
  'rsa_pss_rsae_sha256',
  'rsa_pss_rsae_sha384',
  'rsa_pss_rsae_sha512',
  'rsa_pss_pss_sha256',
  'rsa_pss_pss_sha384',
  'rsa_pss_pss_sha512',
  'rsa_pkcs1_sha256',
  'rsa_pkcs1_sha384',
  'rsa_pkcs1_sha512',
];

/** Every cipher suite a TLS listener offers (Mozilla intermediate without DHE). */
export const MOZILLA_INTERMEDIATE_CIPHERS: readonly string[] = [...TLS13_SUITES, ...TLS12_ECDSA_SUITES, ...TLS12_RSA_SUITES];

/** Key-exchange groups of the intermediate profile, in preference order. */
export const MOZILLA_INTERMEDIATE_CURVES = 'X25519:prime256v1:secp384r1';

/** The protocol options of a TLS listener's base context. */
export type TlsPolicy = Required<
  Pick<SecureContextOptions, 'minVersion' | 'maxVersion' | 'ciphers' | 'sigalgs' | 'ecdhCurve' | 'honorCipherOrder' | 'secureOptions'>
>;

/**
 * The protocol policy of a TLS listener whose base context (the one clients without SNI
 * get) holds a `defaultKeyType` certificate (`rsa`, `ec`, … as KeyObject names them).
 *
 * Why the server picks, and why the order depends on the default certificate: Node
 * serves an SNI certificate by adding it to the connection (src/crypto/crypto_tls.cc,
 * UseSNIContext), which replaces the base certificate only when both keys are of one
 * type. When they differ both stay, and OpenSSL picks whichever the preference order
 * reaches first (nodejs/node#54235). So the server prefers every certificate type
 * before the default's: an SNI certificate always wins over the default one, and clients
 * without SNI, which have only the default, still get it. Among suites of one type the
 * order is Mozilla's; ChaCha20 moves first for clients that ask for it first (mobile
 * CPUs without AES instructions), as "client chooses" would have given them.
 */
export function tlsPolicy(defaultKeyType: string | undefined): TlsPolicy {
  const defaultIsRsa = defaultKeyType === 'rsa' || defaultKeyType === 'rsa-pss';
  const defaultIsEcdsa = defaultKeyType === 'ec';
  const sigalgs = defaultIsEcdsa
    ? [...RSA_SIGALGS, ...EDDSA_SIGALGS, ...ECDSA_SIGALGS]
    : defaultIsRsa
      ? [...ECDSA_SIGALGS, ...EDDSA_SIGALGS, ...RSA_SIGALGS]
      : [...ECDSA_SIGALGS, ...RSA_SIGALGS, ...EDDSA_SIGALGS];
  const suites = defaultIsEcdsa ? [...TLS12_RSA_SUITES, ...TLS12_ECDSA_SUITES] : [...TLS12_ECDSA_SUITES, ...TLS12_RSA_SUITES];
  return {
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ciphers: [...TLS13_SUITES, ...suites].join(':'),
    sigalgs: sigalgs.join(':'),
    ecdhCurve: MOZILLA_INTERMEDIATE_CURVES,
    honorCipherOrder: true,
    // Client-initiated renegotiation is only a DoS lever for a proxy; TLS 1.3 has none anyway.
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_PRIORITIZE_CHACHA,
  };
}
