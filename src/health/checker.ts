import type { HealthCheckConfig } from '../config/schema.js';
import type { Target } from '../pool/target.js';
import type { StateController } from '../state/controller.js';
import { probe } from './probe.js';

interface Watch {
  readonly service: string;
  readonly stack: string;
  readonly target: Target;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Active health checking of every target of every stack (standby included). It only
 * writes health, through Target's `recordProbe` and `setHealthy`, with thresholds:
 * unhealthy after `unhealthy_threshold` consecutive failures, healthy after
 * `healthy_threshold` consecutive successes. Transitions are published as events (the
 * event log writes their log lines).
 */
export class HealthChecker {
  private readonly controller: StateController;
  private readonly watches = new Map<Target, Watch>();
  private stopped = false;

  constructor(controller: StateController) {
    this.controller = controller;
    // Targets added at run time (targets API, reload) start unhealthy and are probed at once.
    controller.registry.onAdded = (service, stack, target) => this.watch(service, stack, target, 0);
    controller.registry.onRemoved = (_service, _stack, target) => this.unwatch(target);
    // A reload may give a service a health_check (watch its targets) or take it away.
    controller.events.subscribe((event) => {
      if (event.type === 'reload') this.sync();
    });
  }

  /** Watches every target of every checked service not watched yet (after a reload). */
  private sync(): void {
    for (const route of this.controller.snapshot.services.values()) {
      const check = route.config.health_check;
      if (check === undefined) continue;
      for (const pool of route.pools) {
        for (const target of pool.targets) this.watch(route.name, pool.name, target, check.interval * Math.random());
      }
    }
  }

  /**
   * First round for every target, before the listeners open; resolves after at most
   * one response_timeout. Then each target is probed every interval, with a random
   * initial offset so many targets do not probe in lockstep.
   */
  async start(): Promise<void> {
    const first: Promise<void>[] = [];
    for (const route of this.controller.snapshot.services.values()) {
      const check = route.config.health_check;
      if (check === undefined) continue;
      for (const pool of route.pools) {
        for (const target of pool.targets) {
          first.push(this.check(route.name, pool.name, target, check));
          // After the first round (which ends within response_timeout), at a random offset.
          this.watch(route.name, pool.name, target, check.response_timeout + check.interval * Math.random());
        }
      }
    }
    await Promise.all(first);
  }

  stop(): void {
    this.stopped = true;
    for (const watch of this.watches.values()) clearTimeout(watch.timer);
    this.watches.clear();
  }

  private checkOf(service: string): HealthCheckConfig | undefined {
    return (
      this.controller.snapshot.services.get(service)?.config.health_check ??
      this.controller.currentConfig.services.find((s) => s.name === service)?.health_check
    );
  }

  private watch(service: string, stack: string, target: Target, delay: number): void {
    if (this.stopped || this.watches.has(target) || this.checkOf(service) === undefined) return;
    const watch: Watch = { service, stack, target, timer: undefined };
    this.watches.set(target, watch);
    this.schedule(watch, delay);
  }

  private unwatch(target: Target): void {
    clearTimeout(this.watches.get(target)?.timer);
    this.watches.delete(target);
  }

  private schedule(watch: Watch, delay: number): void {
    watch.timer = setTimeout(() => {
      const check = this.checkOf(watch.service);
      if (this.watches.get(watch.target) !== watch) return;
      if (check === undefined) {
        // The check was removed by a reload: without checks, every target is healthy.
        this.unwatch(watch.target);
        watch.target.clearProbes();
        this.transition(watch.service, watch.stack, watch.target, true);
        return;
      }
      void this.check(watch.service, watch.stack, watch.target, check).then(() => {
        if (this.watches.get(watch.target) === watch && !this.stopped) this.schedule(watch, check.interval);
      });
    }, delay);
    watch.timer.unref();
  }

  private async check(service: string, stack: string, target: Target, check: HealthCheckConfig): Promise<void> {
    const result = await probe(check, target);
    // Warm-up: a target never checked before (process start, or added at run time) takes
    // traffic after its first passing check, as Envoy warms a new cluster.
    const warming = target.lastCheck === 0;
    target.recordProbe(result.ok, result.ok ? null : result.error, Date.now());
    if (result.ok) {
      if (warming || target.consecutiveSuccesses >= check.healthy_threshold) this.transition(service, stack, target, true);
    } else if (target.consecutiveFailures >= check.unhealthy_threshold) {
      this.transition(service, stack, target, false);
    }
  }

  private transition(service: string, stack: string, target: Target, healthy: boolean): void {
    if (!target.setHealthy(healthy)) return;
    this.controller.events.publish({
      type: 'health',
      time: new Date().toISOString(),
      service,
      stack,
      target: target.address,
      healthy,
      source: 'active',
      error: target.lastError,
    });
  }
}
