import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { Switchyard } from '../app.js';
import type { Config } from '../config/schema.js';
import { WorkerGroup } from './group.js';
import { workerExecArgv } from './worker-heap.js';

/** The number of worker processes `workers` asks for: `auto` is one per CPU this process may use (its affinity mask). */
export function workerCount(config: Pick<Config, 'workers'>): number {
  return config.workers === 'auto' ? availableParallelism() : config.workers;
}

/**
 * Starts switchyard as a primary (control plane: config, state, admin API, health checks,
 * certificates, metrics, webhooks) and `count` worker processes serving clients.
 *
 * Every worker accepts on the shared listening sockets itself (cluster's SCHED_NONE), not
 * Node's Linux default of the primary accepting every connection and passing it to a worker
 * (SCHED_RR): measured with one worker, a new connection per request cost 225 µs of CPU
 * with round robin, 65 of them in the primary, against 93 µs with the kernel's hand-out (the
 * primary 0.4); keep-alive load cost the same either way, and the kernel's spread was even
 * (README, "All cores"). NODE_CLUSTER_SCHED_POLICY=rr selects round robin.
 */
export function startPrimary(config: Config, log: Logger, count: number): Promise<Switchyard> {
  if (process.env.NODE_CLUSTER_SCHED_POLICY === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({
    exec: fileURLToPath(new URL('./worker-main.js', import.meta.url)),
    args: [],
    execArgv: workerExecArgv(),
    // Structured clone: configs keep their exact shape (undefined keys, numbers) on the way.
    serialization: 'advanced',
  });
  log.info({ workers: count, scheduling: cluster.schedulingPolicy === cluster.SCHED_RR ? 'rr' : 'none' }, 'starting workers');
  return Switchyard.start(config, log, (parts) => new WorkerGroup(parts, count));
}
