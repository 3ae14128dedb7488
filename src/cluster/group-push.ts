import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { ToWorker } from './protocol.js';
import type { WorkerHandle } from './worker-handle.js';

/**
 * How the primary's changes reach the workers (SPEC §8): a routing snapshot, a certificate,
 * an ACME token or a reload's listeners go to every live worker and are awaited, and a
 * worker that has not acknowledged within ACK_TIMEOUT is killed (its exit awaited) before
 * the change answers, so none serves the old state after it. Apart from the group, which
 * forks and respawns the processes, because every change shares this one contract.
 */

/** A worker that does not acknowledge a push within this is replaced, and the change answers all the same (SPEC §8). */
export const ACK_TIMEOUT = 2000;

/**
 * Sends to every worker of `workers` and waits for each one's acknowledgement; a worker
 * silent past ACK_TIMEOUT is killed first. A process still booting (no hello yet) is not
 * waited for: this message is held for it behind its init, and it listens only after both.
 */
export async function broadcast(workers: readonly WorkerHandle[], make: (seq: number) => ToWorker, what: string, log: Logger): Promise<void> {
  await Promise.all(
    workers.map(async (h) => {
      if (!h.attached) {
        h.send(make(0));
        return;
      }
      const answer = await h.request(make, ACK_TIMEOUT);
      if (answer === undefined && h.alive) await replaceWorker(h, `did not acknowledge ${what} within ${ACK_TIMEOUT} ms`, log);
    }),
  );
}

/**
 * The first half of a reload across workers: every worker of `workers` binds what `config`
 * adds. When one cannot (a port in use), this throws its error; the workers that did bind
 * are drained (they are respawned on the running config, since they hold listeners it does
 * not name). A worker that does not answer is replaced; its successor binds what the config
 * adds when the routing push reaches it.
 */
export async function prepareReload(workers: readonly WorkerHandle[], config: Config, log: Logger): Promise<void> {
  const answers = await Promise.all(workers.map((h) => h.request((seq) => ({ t: 'reload', seq, config }), ACK_TIMEOUT)));
  const errors: string[] = [];
  const prepared: WorkerHandle[] = [];
  answers.forEach((answer, i) => {
    const h = workers[i] as WorkerHandle;
    if (answer?.t === 'ack' && answer.error !== undefined) errors.push(answer.error);
    else if (answer !== undefined) prepared.push(h);
    else if (h.alive) void replaceWorker(h, `did not answer the reload within ${ACK_TIMEOUT} ms`, log);
  });
  if (errors.length === 0) return;
  for (const h of prepared) h.drain(config.shutdown_timeout);
  throw new Error(errors[0]);
}

/** Kills a worker that stopped answering and waits until it is gone (the group respawns it from the current state). */
async function replaceWorker(h: WorkerHandle, why: string, log: Logger): Promise<void> {
  log.warn({ worker: h.id, pid: h.pid }, `worker ${why}: replacing it`);
  h.replaced = true;
  h.worker.process.kill('SIGKILL');
  await h.exited;
}
