import { splitHostPort } from '../net/host-port.js';

/** Why a target's health last changed, for logs and events. */
export type HealthSource = 'active' | 'passive' | 'initial';

/**
 * One upstream address of one stack, with its health. Its state is read-only outside:
 * the forwarder counts requests with `beginRequest`/`endRequest`, the health checker
 * writes through `recordProbe`/`setHealthy`, the passive outlier detector through
 * `countPassiveFailure`/`eject`; selection only reads. Target objects outlive routing
 * snapshots so health carries over.
 */
export class Target {
  readonly service: string;
  readonly stack: string;
  /** `host:port` as configured. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  #healthy: boolean;
  #ejectedUntil = 0;
  #inFlight = 0;
  #consecutiveSuccesses = 0;
  #consecutiveFailures = 0;
  #passiveFailures = 0;
  #lastCheck = 0;
  #lastError: string | null = null;

  constructor(service: string, stack: string, address: string, healthy: boolean) {
    this.service = service;
    this.stack = stack;
    this.address = address;
    const { host, port } = splitHostPort(address);
    this.host = host;
    this.port = port;
    this.#healthy = healthy;
  }

  /** Result of active checking (true until a checker says otherwise). */
  get healthy(): boolean {
    return this.#healthy;
  }

  /** Passive ejection end, epoch ms; 0 when not ejected. */
  get ejectedUntil(): number {
    return this.#ejectedUntil;
  }

  /** Requests in flight to this target (least_conn, random_two). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Consecutive passing active checks. */
  get consecutiveSuccesses(): number {
    return this.#consecutiveSuccesses;
  }

  /** Consecutive failing active checks. */
  get consecutiveFailures(): number {
    return this.#consecutiveFailures;
  }

  /** Consecutive passive failures (connect errors, 5xx) since the last success. */
  get passiveFailures(): number {
    return this.#passiveFailures;
  }

  /** Epoch ms of the last active check, or 0. */
  get lastCheck(): number {
    return this.#lastCheck;
  }

  /** Why the last active check failed, or null. */
  get lastError(): string | null {
    return this.#lastError;
  }

  /** Healthy and not ejected: may be chosen for a request. */
  isAvailable(now: number): boolean {
    return this.#healthy && (this.#ejectedUntil === 0 || this.#ejectedUntil <= now);
  }

  /** An attempt at this target started. */
  beginRequest(): void {
    this.#inFlight++;
  }

  /** An attempt at this target ended (answered, failed or abandoned). */
  endRequest(): void {
    this.#inFlight--;
  }

  /** Records one active check at `now`: counters, last check and its error (null when it passed). */
  recordProbe(ok: boolean, error: string | null, now: number): void {
    this.#lastCheck = now;
    this.#lastError = ok ? null : error;
    if (ok) {
      this.#consecutiveFailures = 0;
      this.#consecutiveSuccesses++;
    } else {
      this.#consecutiveSuccesses = 0;
      this.#consecutiveFailures++;
    }
  }

  /** The service lost its active check: forget the check counters and error. */
  clearProbes(): void {
    this.#consecutiveSuccesses = 0;
    this.#consecutiveFailures = 0;
    this.#lastError = null;
  }

  /** Sets the active-check health; returns true when it changed. */
  setHealthy(healthy: boolean): boolean {
    if (this.#healthy === healthy) return false;
    this.#healthy = healthy;
    return true;
  }

  /** One more passive failure in a row; returns the count. */
  countPassiveFailure(): number {
    return ++this.#passiveFailures;
  }

  /** A response below 500 arrived: the passive failure count starts over. */
  clearPassiveFailures(): void {
    if (this.#passiveFailures !== 0) this.#passiveFailures = 0;
  }

  /** Passively eject the target until `until` (epoch ms); the failure count starts over. */
  eject(until: number): void {
    this.#ejectedUntil = until;
    this.#passiveFailures = 0;
  }
}
