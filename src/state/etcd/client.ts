import { Agent, request } from 'undici';
import { SwitchyardError } from '../../errors.js';
import { classify, Failure, gatewayFailure } from './failure.js';

/** PEM contents (not paths) for talking TLS to etcd. */
export interface EtcdTlsOptions {
  /** CA that signed etcd's server certificate; default: the system CAs. */
  readonly ca?: string | undefined;
  /** Client certificate, for etcd's --client-cert-auth. */
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

/** How to reach etcd. */
export interface EtcdClientOptions {
  /** Client URLs of the cluster members, e.g. http://10.0.0.5:2379. */
  readonly endpoints: readonly string[];
  /** Longest time one operation may take, all endpoints together (ms). Default 2000. */
  readonly timeout?: number | undefined;
  readonly tls?: EtcdTlsOptions | undefined;
  /** etcd user and password (etcd auth enabled). */
  readonly auth?: { readonly username: string; readonly password: string } | undefined;
}

/** etcd answered, with an error that is not about reachability (bad request, compacted revision…). */
export class EtcdError extends Error {
  /** The gRPC status code etcd gave (11 = out of range, e.g. a compacted revision). */
  readonly grpcCode: number;

  constructor(grpcCode: number, message: string) {
    super(message);
    this.name = 'EtcdError';
    this.grpcCode = grpcCode;
  }
}

/** Which requests may be repeated on another endpoint after an ambiguous failure. */
export type RetryPolicy = 'idempotent' | 'once';

/** Called with true when etcd answers again, false when it stops answering. */
export type ConnectionListener = (connected: boolean) => void;

/**
 * A small client for etcd's v3 JSON gateway (`/v3/*`, stable since etcd 3.4 and the only
 * gateway path from 3.5) over undici: every call is bounded by `timeout`, fails over
 * between endpoints, and reports reachability transitions.
 */
export class EtcdClient {
  /** Longest time one operation may take (ms). */
  readonly timeout: number;
  private readonly endpoints: readonly string[];
  private readonly agent: Agent;
  private readonly auth: EtcdClientOptions['auth'];
  /** Simple tokens are per member, so one per endpoint. */
  private readonly tokens = new Map<string, Promise<string>>();
  private current = 0;
  private state: boolean | undefined;
  private readonly listeners = new Set<ConnectionListener>();

  constructor(options: EtcdClientOptions) {
    if (options.endpoints.length === 0) throw new Error('etcd needs at least one endpoint');
    this.endpoints = options.endpoints.map((e) => e.replace(/\/+$/, ''));
    this.timeout = options.timeout ?? 2000;
    this.auth = options.auth;
    const tls = options.tls;
    this.agent = new Agent({
      connect: { timeout: this.timeout, ...(tls?.ca ? { ca: tls.ca } : {}), ...(tls?.cert ? { cert: tls.cert } : {}), ...(tls?.key ? { key: tls.key } : {}) },
      keepAliveTimeout: 30_000,
    });
  }

  /** True after the last call reached etcd, false after it could not; undefined before any call. */
  get connected(): boolean | undefined {
    return this.state;
  }

  /** Subscribes to reachability transitions; returns the unsubscribe function. */
  onConnection(listener: ConnectionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Records a reachability observation (also used by the watch stream). */
  noteConnected(connected: boolean): void {
    if (this.state === connected) return;
    this.state = connected;
    for (const listener of this.listeners) listener(connected);
  }

  /**
   * POSTs `body` to `path` (e.g. /v3/kv/range) and returns the JSON answer. Throws
   * STORE_UNAVAILABLE when no endpoint answered within `timeout`, EtcdError when etcd
   * refused the request. `once` requests (writes) are not repeated after an ambiguous
   * failure: the answer is STORE_UNAVAILABLE and the change may or may not have happened.
   */
  async call<T>(path: string, body: unknown, retry: RetryPolicy = 'idempotent'): Promise<T> {
    const deadline = Date.now() + this.timeout;
    const count = this.endpoints.length;
    let reason = 'no endpoint answered in time';
    let authRetried = false;
    let leaderless = false;
    for (let attempt = 0; ; attempt++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      const endpoint = this.endpoint();
      // With several members, a hung one must not use up the whole budget.
      const budget = count > 1 ? Math.max(Math.min(remaining, this.timeout / 2), Math.min(remaining, 250)) : remaining;
      try {
        const answer = await this.post<T>(endpoint, path, body, budget);
        this.noteConnected(true);
        return answer;
      } catch (err) {
        const failure = classify(err);
        if (failure.kind === 'answer') {
          this.noteConnected(true);
          throw new EtcdError(failure.grpcCode, failure.message);
        }
        if (failure.kind === 'denied') {
          // Every member would say the same: unusable until the credentials are fixed.
          this.noteConnected(false);
          throw new SwitchyardError('STORE_UNAVAILABLE', `etcd refused access: ${failure.message} (check state.username_env / password_env)`);
        }
        if (failure.kind === 'auth' && !authRetried) {
          this.tokens.delete(endpoint);
          authRetried = true;
          attempt--;
          continue;
        }
        reason = `${endpoint}: ${failure.message}`;
        this.advance(endpoint);
        if (failure.kind === 'ambiguous' && retry === 'once') {
          this.noteConnected(false);
          throw new SwitchyardError('STORE_UNAVAILABLE', `etcd did not confirm the write (${reason}); it may still apply and then arrives through the watch`);
        }
        if (failure.kind === 'leaderless') leaderless = true;
        if ((attempt + 1) % count === 0) {
          // A whole pass without a leader election in sight: the cluster is down, say so now.
          if (!leaderless) break;
          leaderless = false;
          await sleep(Math.min(100, Math.max(0, deadline - Date.now())));
        }
      }
    }
    this.noteConnected(false);
    throw new SwitchyardError('STORE_UNAVAILABLE', `etcd is unreachable (${reason})`);
  }

  /**
   * Opens a streaming call (the watch) on the current endpoint and yields each JSON
   * message. Opening is bounded by `timeout`; afterwards the stream lives until `signal`.
   */
  async *stream(path: string, body: unknown, signal: AbortSignal): AsyncGenerator<Record<string, unknown>> {
    const endpoint = this.endpoint();
    let response: Awaited<ReturnType<typeof request>>;
    try {
      const headers = { 'content-type': 'application/json', 'grpc-metadata-hasleader': 'true', ...(await this.authHeader(endpoint, this.timeout)) };
      response = await request(`${endpoint}${path}`, {
        method: 'POST',
        dispatcher: this.agent,
        headers,
        body: JSON.stringify(body),
        signal,
        headersTimeout: this.timeout,
        bodyTimeout: 0,
      });
    } catch (err) {
      this.advance(endpoint);
      throw err;
    }
    if (response.statusCode !== 200) {
      const text = await response.body.text().catch(() => '');
      this.advance(endpoint);
      throw new Error(`${endpoint}${path}: HTTP ${response.statusCode} ${text.slice(0, 200)}`);
    }
    let buffered = '';
    for await (const chunk of response.body) {
      buffered += (chunk as Buffer).toString('utf8');
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) yield JSON.parse(line) as Record<string, unknown>;
        newline = buffered.indexOf('\n');
      }
    }
    const rest = buffered.trim();
    if (rest) yield JSON.parse(rest) as Record<string, unknown>;
  }

  /** Forgets the token of an endpoint (after etcd said it is invalid on a stream). */
  dropToken(): void {
    this.tokens.clear();
  }

  /** Moves later calls and streams to the next endpoint. */
  rotate(): void {
    this.advance(this.endpoint());
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    await this.agent.destroy();
  }

  private endpoint(): string {
    return this.endpoints[this.current % this.endpoints.length] ?? '';
  }

  /** Next endpoint, unless another call already moved on from `failed`. */
  private advance(failed: string): void {
    if (this.endpoint() === failed) this.current = (this.current + 1) % this.endpoints.length;
  }

  private async post<T>(endpoint: string, path: string, body: unknown, timeout: number, authenticated = true): Promise<T> {
    const signal = AbortSignal.timeout(timeout);
    // hasleader: a member without a leader answers "no leader" at once instead of
    // holding the request until etcd's own timeout; such a request was never proposed.
    const headers = {
      'content-type': 'application/json',
      'grpc-metadata-hasleader': 'true',
      ...(authenticated ? await this.authHeader(endpoint, timeout) : {}),
    };
    let text: string;
    let status: number;
    try {
      const response = await request(`${endpoint}${path}`, { method: 'POST', dispatcher: this.agent, headers, body: JSON.stringify(body), signal });
      status = response.statusCode;
      text = await response.body.text();
    } catch (err) {
      if (signal.aborted) throw new Failure('ambiguous', `no answer within ${timeout} ms`);
      throw err;
    }
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new Failure('ambiguous', `HTTP ${status} without a JSON body`);
    }
    if (status >= 200 && status < 300) return json as T;
    throw gatewayFailure(json);
  }

  private async authHeader(endpoint: string, timeout: number): Promise<Record<string, string>> {
    const auth = this.auth;
    if (!auth) return {};
    let token = this.tokens.get(endpoint);
    if (!token) {
      token = this.post<{ token?: string }>(endpoint, '/v3/auth/authenticate', { name: auth.username, password: auth.password }, timeout, false).then(
        (answer) => answer.token ?? '',
        (err: unknown) => {
          if (err instanceof Failure && (err.kind === 'answer' || err.kind === 'denied')) {
            throw new Failure('denied', `credentials of user "${auth.username}" refused: ${err.message}`, err.grpcCode);
          }
          throw err;
        },
      );
      this.tokens.set(endpoint, token);
      token.catch(() => this.tokens.delete(endpoint));
    }
    return { authorization: await token };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
