import type { SwitchyardError } from '../errors.js';

/** A refused or failed admin call, with the API's error code and message. */
export class AdminCallError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'AdminCallError';
    this.status = status;
    this.code = code;
  }
}

/** Talks JSON to the admin API; every non-2xx answer becomes an AdminCallError. */
export class AdminClient {
  private readonly base: string;
  private readonly token: string | undefined;

  constructor(base: string, token: string | undefined) {
    this.base = base.replace(/\/+$/, '');
    this.token = token;
  }

  /** The client for `--admin` / SWITCHYARD_ADMIN and SWITCHYARD_ADMIN_TOKEN. */
  static fromEnv(admin: string | undefined): AdminClient {
    return new AdminClient(admin ?? process.env.SWITCHYARD_ADMIN ?? 'http://127.0.0.1:9901', process.env.SWITCHYARD_ADMIN_TOKEN || undefined);
  }

  /** Sends one request; `body` is sent as JSON. */
  async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(this.base + path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new AdminCallError(0, 'UNREACHABLE', `cannot reach the admin API at ${this.base}: ${cause}`);
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const error = (parsed as ReturnType<SwitchyardError['toJSON']> | undefined)?.error;
      throw new AdminCallError(response.status, error?.code ?? `HTTP_${response.status}`, error?.message ?? (text || response.statusText));
    }
    return parsed as T;
  }
}
