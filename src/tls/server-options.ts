import type { ServerOptions } from 'node:https';
import type { SecureContext, SecureContextOptions, Server as TlsServer } from 'node:tls';
import type { ListenerConfig } from '../config/schema.js';
import { tlsPolicy } from './policy.js';
import type { CertificateProvider } from './provider.js';

/** The listener fields TLS needs. */
export type TlsListener = Pick<ListenerConfig, 'name' | 'default_cert' | 'hsts_max_age'>;

/** The SNI callback of one listener: the store's context for the name, or a failed handshake. */
function sniCallback(store: CertificateProvider, listener: TlsListener): NonNullable<ServerOptions['SNICallback']> {
  const defaultCert = listener.default_cert;
  const fallback = defaultCert === undefined ? 'and no default_cert' : `and default_cert "${defaultCert}" is not installed`;
  return (servername: string, callback: (err: Error | null, ctx?: SecureContext) => void) => {
    const context = store.contextFor(servername, defaultCert);
    if (context) callback(null, context);
    else callback(new Error(`no certificate for "${servername}" on listener ${listener.name} ${fallback}`));
  };
}

/**
 * Options for `https.createServer` on a TLS listener: Mozilla intermediate (TLS 1.2 and
 * 1.3, AEAD + forward-secret ciphers, X25519/P-256/P-384; see policy.ts for why the
 * server orders them), session tickets on (Node's default), certificates chosen per
 * handshake by SNI from the store (exact host, then wildcard, then `default_cert`; none →
 * the handshake fails). Clients that send no SNI (IP literals, old tools) never reach the
 * SNI callback: they get the base context, which carries `default_cert` as it is now.
 * Call `trackDefaultCertificate` on the server so it follows later changes of it.
 */
export function tlsServerOptions(store: CertificateProvider, listener: TlsListener): ServerOptions {
  const pair = listener.default_cert === undefined ? undefined : store.keyPair(listener.default_cert);
  return { ...tlsPolicy(pair?.keyType), ...(pair ? { cert: pair.cert, key: pair.key } : {}), SNICallback: sniCallback(store, listener) };
}

/** What `trackDefaultCertificate` needs of the server (a `tls.Server` or `https.Server`). */
export type ContextSwappable = Pick<TlsServer, 'setSecureContext' | 'getTicketKeys'>;

/**
 * Keeps a TLS server's base context (served to clients without SNI) on the listener's
 * current `default_cert`: rebuilt whenever that certificate is added or replaced, keeping
 * the session-ticket keys so resumption survives. Returns the unsubscribe function.
 */
export function trackDefaultCertificate(server: ContextSwappable, store: CertificateProvider, listener: TlsListener): () => void {
  const defaultCert = listener.default_cert;
  if (defaultCert === undefined) return () => undefined;
  return store.subscribe((name) => {
    if (name !== defaultCert || !store.has(name)) return;
    const options: SecureContextOptions = { ...tlsServerOptions(store, listener), ticketKeys: server.getTicketKeys() };
    server.setSecureContext(options);
  });
}

/** The Strict-Transport-Security value for a listener with `hsts_max_age`, else undefined. */
export function hstsHeaderValue(listener: TlsListener): string | undefined {
  return listener.hsts_max_age === undefined ? undefined : `max-age=${listener.hsts_max_age}`;
}
