import { ERRORS, type ErrorCode } from '../errors.js';
import type { UpstreamErrorKind } from '../pool/stack-meter.js';

const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** Most extra attempts for one request (SPEC §3: at most 2 retries). */
export const MAX_RETRIES = 2;

/** Classifies a socket/parser error from an upstream request. */
export function classifyUpstreamError(err: NodeJS.ErrnoException, connected: boolean): UpstreamErrorKind {
  if (!connected || (err.code !== undefined && CONNECT_CODES.has(err.code))) return 'connect';
  if (err.code?.startsWith('HPE_')) return 'protocol';
  return 'reset';
}

/** The facts the one retry decision depends on. */
export interface RetryFacts {
  readonly kind: UpstreamErrorKind;
  readonly method: string;
  /** Retries already made. */
  readonly retries: number;
  /** The upstream's response head already arrived (nothing can be retried then). */
  readonly responded: boolean;
  /** Request body bytes were handed to the failed upstream (they cannot be replayed). */
  readonly bodySent: boolean;
  /** The failed request went out on a pooled keep-alive socket. */
  readonly reusedSocket: boolean;
}

/**
 * The one retry decision (SPEC §3): a connection that could not be established is
 * retried for any method; a stale pooled socket reset before any response is retried
 * (the keep-alive race, nodejs/node#47130); a reset or a response timeout only for
 * idempotent methods; a broken or 5xx response never; never once a response began or a
 * body was consumed, never past MAX_RETRIES.
 */
export function shouldRetry(facts: RetryFacts): boolean {
  if (facts.retries >= MAX_RETRIES || facts.responded || facts.bodySent) return false;
  switch (facts.kind) {
    case 'connect':
      return true;
    case 'reset':
      return facts.reusedSocket || IDEMPOTENT.has(facts.method);
    case 'timeout':
      // As nginx's default `proxy_next_upstream error timeout`: a hung target must not
      // fail a request a healthy sibling can answer. Only when repeating it is safe.
      return IDEMPOTENT.has(facts.method);
    case 'protocol':
    case '5xx':
      return false;
    default: {
      const never: never = facts.kind;
      return never;
    }
  }
}

/**
 * Whether a failure counts against the target for passive ejection: refused or hung
 * connections, timeouts, broken framing, and resets of fresh connections. A reset of a
 * reused pooled socket is the keep-alive race, not the target's fault.
 */
export function isTargetFault(kind: UpstreamErrorKind, reusedSocket: boolean): boolean {
  return kind !== 'reset' || !reusedSocket;
}

/** What a client is answered when forwarding failed. */
export interface FailureResponse {
  readonly code: ErrorCode;
  readonly status: number;
}

const TIMED_OUT: FailureResponse = { code: 'UPSTREAM_TIMEOUT', status: ERRORS.UPSTREAM_TIMEOUT.status };
const FAILED: FailureResponse = { code: 'UPSTREAM_FAILED', status: ERRORS.UPSTREAM_FAILED.status };
const BUSY: FailureResponse = { code: 'UPSTREAM_BUSY', status: ERRORS.UPSTREAM_BUSY.status };

/**
 * The one mapping from an upstream failure to the client's answer: a response timeout
 * is 504 UPSTREAM_TIMEOUT, a request that waited the response timeout for a free
 * connection (`queue`: the target has `max_sockets` busy) 503 UPSTREAM_BUSY, as
 * HAProxy's `timeout queue` (the target did not fail; it was never asked), everything
 * else (refused, reset, broken framing) 502 UPSTREAM_FAILED. A 5xx from the upstream is
 * passed on as it is and never gets here.
 */
export function failureResponse(kind: UpstreamErrorKind | 'queue'): FailureResponse {
  return kind === 'timeout' ? TIMED_OUT : kind === 'queue' ? BUSY : FAILED;
}
