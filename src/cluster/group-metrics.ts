import { Counter, Gauge } from 'prom-client';
import type { Metrics } from '../metrics/metrics.js';

/** Why a worker process was respawned: it died, the primary killed it for not answering, or a failed reload drained it. */
export type RestartReason = 'exited' | 'replaced' | 'drained';

/**
 * The worker group's own series on the /metrics page: `switchyard_workers` (alive now) and
 * `switchyard_worker_restarts_total{reason}`. Returns what counts a restart (a no-op when
 * metrics are disabled).
 */
export function groupMetrics(metrics: Metrics | undefined, alive: () => number): (reason: RestartReason) => void {
  if (metrics === undefined) return () => undefined;
  const registers = [metrics.registry];
  const restarts = new Counter({
    name: 'switchyard_worker_restarts_total',
    help: 'Worker processes respawned, by why the old one ended.',
    labelNames: ['reason'],
    registers,
  });
  for (const reason of ['exited', 'replaced', 'drained'] satisfies RestartReason[]) restarts.inc({ reason }, 0);
  new Gauge({
    name: 'switchyard_workers',
    help: 'Worker processes alive.',
    registers,
    collect() {
      this.set(alive());
    },
  });
  return (reason) => restarts.inc({ reason });
}
