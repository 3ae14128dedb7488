/**
 * The one error catalogue. The admin API, the CLI and the proxy all speak these codes;
 * a test checks every entry has a status and a message.
 */
export const ERRORS = {
  BAD_REQUEST: { status: 400, message: 'The request is malformed' },
  INVALID_BODY: { status: 400, message: 'The request body is invalid' },
  INVALID_WEIGHTS: { status: 400, message: 'Weights must be non-negative integers, not all zero' },
  INVALID_TARGET: { status: 400, message: 'Targets must be host:port' },
  INVALID_CERTIFICATE: { status: 400, message: 'The certificate or key is invalid' },
  INVALID_ROLLOUT: { status: 400, message: 'The rollout is invalid' },
  INVALID_OVERRIDE: { status: 400, message: 'An override is invalid' },
  UNAUTHORIZED: { status: 401, message: 'A valid bearer token is required' },
  FORBIDDEN_ORIGIN: { status: 403, message: 'Host or Origin is not a loopback name' },
  UNKNOWN_SERVICE: { status: 404, message: 'No such service' },
  UNKNOWN_STACK: { status: 404, message: 'No such stack' },
  UNKNOWN_CERTIFICATE: { status: 404, message: 'No such certificate' },
  NOT_FOUND: { status: 404, message: 'Not found' },
  NO_ROUTE: { status: 404, message: 'No service matches this request' },
  NO_ROLLOUT: { status: 404, message: 'The service has no rollout' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request was not received in time' },
  STACK_UNHEALTHY: { status: 409, message: 'The stack has no healthy target' },
  CERTIFICATE_IN_USE: { status: 409, message: 'The certificate is a listener default_cert' },
  CERTIFICATE_EXISTS: { status: 409, message: 'A certificate or ACME order of that name already exists' },
  ACME_NOT_CONFIGURED: { status: 409, message: 'ACME is not configured (no top-level acme section)' },
  NO_HISTORY: { status: 409, message: 'There is no earlier state to roll back to' },
  ROLLOUT_IN_PROGRESS: { status: 409, message: 'A rollout is in progress on this service' },
  ROLLOUT_NOT_ACTIVE: { status: 409, message: 'The rollout has already completed or been aborted' },
  CONCURRENT_CHANGE: { status: 409, message: 'The service kept changing through other fleet instances; try again' },
  PRECONDITION_FAILED: { status: 412, message: 'If-Match names an older generation' },
  BODY_TOO_LARGE: { status: 413, message: 'The request body is too large' },
  URI_TOO_LONG: { status: 414, message: 'The request target is too long' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Mutations require Content-Type: application/json' },
  HEADERS_TOO_LARGE: { status: 431, message: 'Request header fields too large' },
  INTERNAL: { status: 500, message: 'Internal error' },
  STATE_WRITE_FAILED: { status: 500, message: 'The state could not be stored durably' },
  NOT_IMPLEMENTED: { status: 501, message: 'The request uses a transfer coding switchyard does not implement' },
  UPSTREAM_FAILED: { status: 502, message: 'The upstream failed to answer' },
  NO_HEALTHY_TARGET: { status: 503, message: 'No healthy target' },
  UPSTREAM_BUSY: { status: 503, message: 'Every connection to the target stayed busy (upstream.max_sockets) for the response timeout' },
  STORE_UNAVAILABLE: { status: 503, message: 'The state store (etcd) is unreachable; the last known state keeps serving' },
  UPSTREAM_TIMEOUT: { status: 504, message: 'The upstream did not answer in time' },
  FLEET_LAGGING: { status: 504, message: 'Some fleet members did not apply the change in time; it stays committed' },
  HTTP_VERSION_NOT_SUPPORTED: { status: 505, message: 'Only HTTP/1.0 and HTTP/1.1 are served on this port' },
} as const satisfies Record<string, { status: number; message: string }>;

/** A stable error code from the catalogue. */
export type ErrorCode = keyof typeof ERRORS;

/** An error with a catalogue code; `message` may refine the catalogue's default text. */
export class SwitchyardError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message?: string) {
    super(message ?? ERRORS[code].message);
    this.name = 'SwitchyardError';
    this.code = code;
    this.status = ERRORS[code].status;
  }

  /** The JSON body every error response carries. */
  toJSON(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/** The message of anything thrown (an Error's message, else its string form), for logs and error texts. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
