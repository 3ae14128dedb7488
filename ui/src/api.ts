/** An error from the admin API, kept as the API words it. */
export class ApiError extends Error {
  /** HTTP status; 0 when switchyard could not be reached. */
  readonly status: number;
  /** The catalogue code, e.g. STACK_UNHEALTHY. */
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }

  /** `409 STACK_UNHEALTHY: stack "green" … has no healthy target …`. */
  get text(): string {
    return this.status === 0 ? this.message : `${this.status} ${this.code}: ${this.message}`;
  }
}

/** What a call may carry besides method and path. */
export interface CallOptions {
  readonly body?: unknown;
  /** The generation the page shows: a change made meanwhile by someone else gets 412, not overwritten. */
  readonly ifMatch?: number;
}

/** The admin API, same origin, with the bearer token when there is one. */
export class Api {
  private readonly token: () => string | null;

  constructor(token: () => string | null) {
    this.token = token;
  }

  /** One call; resolves with the JSON answer or rejects with an ApiError. */
  async call<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = this.token();
    if (token) headers.authorization = `Bearer ${token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.ifMatch !== undefined) headers['if-match'] = `"${options.ifMatch}"`;
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: options.body === undefined ? null : JSON.stringify(options.body),
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch {
      throw new ApiError(0, 'UNREACHABLE', 'switchyard is unreachable');
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ApiError(response.status, error?.code ?? 'HTTP_ERROR', error?.message ?? (response.statusText || 'request failed'));
    }
    return json as T;
  }
}
