import { splitHostPort } from '../net/host-port.js';

/** Why a target's health last changed, for logs and events. */
export type HealthSource = 'active' | 'passive' | 'initial';

/**
 * One upstream address of one stack, with its health. The health checker and the
 * passive outlier detector write health only through the methods here; selection only
 * reads `isAvailable`. Target objects outlive routing snapshots so health carries over.
 */
export class Target {
  readonly service: string;
  readonly stack: string;
  /** `host:port` as configured. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** Result of active checking (true until a checker says otherwise). */
  healthy: boolean;
  /** Passive ejection end, epoch ms; 0 when not ejected. */
  ejectedUntil = 0;
  /** Requests in flight to this target (least_conn, random_two). */
  inFlight = 0;
  consecutiveSuccesses = 0;
  consecutiveFailures = 0;
  /** Consecutive passive failures (connect errors, 5xx) since the last success. */
  passiveFailures = 0;
  /** Epoch ms of the last active check, or 0. */
  lastCheck = 0;
  lastError: string | null = null;

  constructor(service: string, stack: string, address: string, healthy: boolean) {
    this.service = service;
    this.stack = stack;
    this.address = address;
    const { host, port } = splitHostPort(address);
    this.host = host;
    this.port = port;
    this.healthy = healthy;
  }

  /** Healthy and not ejected: may be chosen for a request. */
  isAvailable(now: number): boolean {
    return this.healthy && (this.ejectedUntil === 0 || this.ejectedUntil <= now);
  }

  /** Passively eject the target until `until` (epoch ms). */
  eject(until: number): void {
    this.ejectedUntil = until;
  }

  /** Sets the active-check health; returns true when it changed. */
  setHealthy(healthy: boolean): boolean {
    if (this.healthy === healthy) return false;
    this.healthy = healthy;
    return true;
  }
}
