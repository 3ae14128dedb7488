import { SwitchyardError } from '../../errors.js';

/*
 * Sorting a failed etcd request into a kind by the rules of etcd's gRPC codes and
 * undici's connection errors, in one place; the client (client.ts) acts on the kind:
 * fail over, repeat a read, renew a token or give up.
 */

/**
 * How a request failed: `unsent` never reached etcd's state machine (connection refused,
 * no leader), so any request may go to the next endpoint; `ambiguous` may have been
 * applied (a timeout after sending), so only reads are repeated; `auth` is a stale token.
 */
export type FailureKind = 'unsent' | 'leaderless' | 'ambiguous' | 'auth' | 'denied' | 'answer';

/** A failed request, sorted. */
export class Failure extends Error {
  readonly kind: FailureKind;
  readonly grpcCode: number;

  constructor(kind: FailureKind, message: string, grpcCode = 0) {
    super(message);
    this.kind = kind;
    this.grpcCode = grpcCode;
  }
}

/** Errors of a connection that never got established: nothing was sent. */
const UNSENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

/** Maps an etcd gateway error body to a failure kind. */
export function gatewayFailure(json: Record<string, unknown>): Failure {
  const code = typeof json.code === 'number' ? json.code : 2;
  const message = typeof json.message === 'string' ? json.message : typeof json.error === 'string' ? json.error : JSON.stringify(json);
  // gRPC 14 UNAVAILABLE: "no leader" was never proposed; others (request timed out,
  // leader changed) may still commit. 4 DEADLINE_EXCEEDED likewise. 16: stale token.
  if (code === 14 && message.includes('no leader')) return new Failure('leaderless', message, code);
  if (code === 14 || code === 4) return new Failure('ambiguous', message, code);
  if (code === 16 && message.includes('invalid auth token')) return new Failure('auth', message, code);
  // 7 PERMISSION_DENIED, 16 UNAUTHENTICATED, or 3 "user name is empty" (auth on, no credentials).
  if (code === 7 || code === 16 || message.includes('user name is empty')) return new Failure('denied', message, code);
  return new Failure('answer', message, code);
}

/** Sorts an error from undici or the gateway into a failure kind. */
export function classify(err: unknown): Failure {
  if (err instanceof Failure) return err;
  if (err instanceof SwitchyardError) return new Failure('unsent', err.message);
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message || String(code) : String(err);
  if (typeof code === 'string' && UNSENT_CODES.has(code)) return new Failure('unsent', `${code} ${message}`);
  return new Failure('ambiguous', typeof code === 'string' ? `${code} ${message}` : message);
}
