import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { Switchyard } from '../app.js';
import type { Config } from '../config/schema.js';
import { WorkerGroup } from './group.js';

/** The number of worker processes `workers` asks for: `auto` is one per CPU this process may use (its affinity mask). */
export function workerCount(config: Pick<Config, 'workers'>): number {
  return config.workers === 'auto' ? availableParallelism() : config.workers;
}

/**
 * Starts switchyard as a primary (control plane: config, state, admin API, health checks,
 * certificates, metrics, webhooks) and `count` worker processes serving clients.
 * Connections are handed out round robin by the primary (cluster's SCHED_RR, the Linux
 * default; see the README's "All cores" for the measurement); NODE_CLUSTER_SCHED_POLICY=none
 * leaves them to the kernel instead.
 */
export function startPrimary(config: Config, log: Logger, count: number): Promise<Switchyard> {
  if (process.env.NODE_CLUSTER_SCHED_POLICY === undefined) cluster.schedulingPolicy = cluster.SCHED_RR;
  cluster.setupPrimary({
    exec: fileURLToPath(new URL('./worker-main.js', import.meta.url)),
    args: [],
    // Structured clone: configs keep their exact shape (undefined keys, numbers) on the way.
    serialization: 'advanced',
  });
  log.info({ workers: count, scheduling: cluster.schedulingPolicy === cluster.SCHED_RR ? 'rr' : 'none' }, 'starting workers');
  return Switchyard.start(config, log, (parts) => new WorkerGroup(parts, count));
}
