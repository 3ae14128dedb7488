import cluster from 'node:cluster';
import type { Logger } from 'pino';
import type { ChallengeResponder } from '../acme/challenges.js';
import type { WorkersView } from '../admin/routes/workers.js';
import type { Config } from '../config/schema.js';
import type { ControlParts, DataPlane } from '../data-plane.js';
import type { SwitchyardEvent } from '../events/bus.js';
import type { Metrics } from '../metrics/metrics.js';
import type { RoutingSnapshot } from '../routing/snapshot.js';
import type { ReloadStep, StateController } from '../state/controller.js';
import type { CertificateChange, CertificateStore } from '../tls/store.js';
import { GroupCounts } from './group-counts.js';
import { groupMetrics, type RestartReason } from './group-metrics.js';
import { type FromWorker, isMessage, type ToWorker } from './protocol.js';
import { healthOf, RoutingEncoder, type TargetHealth } from './snapshot-wire.js';
import { newSlot, respawnDelay, type Slot } from './slot.js';
import { WorkerHandle } from './worker-handle.js';

/** A worker that does not acknowledge a push within this is replaced, and the change answers all the same (SPEC §8). */
export const ACK_TIMEOUT = 2000;
/** A report that takes longer than this is left out of a scrape (the worker's previous one counts). */
const REPORT_TIMEOUT = 1000;
/** A dead process's late messages (its last report) are still taken this long before its counts are retired. */
const RETIRE_DELAY = 1000;
/** Beyond shutdown_timeout, how long a draining worker has to exit before it is killed. */
const STOP_GRACE = 2000;

/**
 * The data plane as N worker processes (node:cluster: the primary opens each listening
 * socket and shares it, and each worker accepts on it; see primary.ts). Every routing
 * snapshot and certificate change goes to every live worker and is awaited: a change
 * answers only once each has acknowledged it, and a worker that has not within ACK_TIMEOUT
 * is killed (its exit awaited) before the answer, so none serves the old state after it. A
 * worker that dies is respawned and starts from the current state; passive ejections and
 * failovers seen by one worker come back here and go to all.
 */
export class WorkerGroup implements DataPlane {
  /** Open WebSockets per service and stack, summed over the workers' last reports. */
  readonly websockets = { count: (service: string, stack: string): number => this.openWebSockets(service, stack) };
  private readonly controller: StateController;
  private readonly certificates: CertificateStore;
  private readonly challenges: ChallengeResponder;
  private readonly metrics: Metrics | undefined;
  private readonly log: Logger;
  private readonly slots: Slot[];
  private readonly counts = new GroupCounts();
  private readonly encoder = new RoutingEncoder();
  private readonly restarted: (reason: RestartReason) => void;
  private started = false;
  private stopping = false;
  /** Reports arrived since the metrics last loaded the group's counts. */
  private countsChanged = true;

  constructor(parts: ControlParts, count: number) {
    this.controller = parts.controller;
    this.certificates = parts.certificates;
    this.metrics = parts.metrics;
    this.log = parts.log;
    this.slots = Array.from({ length: count }, (_, i) => newSlot(i + 1));
    this.controller.applyWith((snapshot) => this.pushRouting(snapshot));
    this.certificates.applyWith((change) => this.pushCertificate(change));
    this.challenges = parts.challenges;
    this.challenges.replicateWith((change) => this.broadcast((seq) => ({ t: 'challenge', seq, change }), `ACME token ${change.token}`));
    this.restarted = groupMetrics(parts.metrics, () => this.live().length);
    // Workers report changed counts every second unasked: what the dashboard's figures read between scrapes.
    parts.metrics?.onRead(() => this.loadCounts());
  }

  /** Health changes go to every worker; switches too, for their WebSocket drains. */
  readonly onEvent = (event: SwitchyardEvent): void => {
    if (event.type === 'health') {
      const target = this.targetOf({ service: event.service, stack: event.stack, target: event.target });
      if (target !== undefined) this.sendAll({ t: 'target', health: healthOf(target) });
    } else if (event.type === 'switch' || event.type === 'weights' || event.type === 'rollback') {
      this.sendAll({ t: 'event', event });
    }
  };

  /** Forks every worker; resolves once all listen, rejects with the first one's failure (a port in use). */
  async start(_config: Config): Promise<void> {
    const handles = this.slots.map((slot) => this.spawn(slot));
    await Promise.all(handles.map((h) => h.ready));
    this.started = true;
  }

  /**
   * A reload across workers: `prepare` has every worker bind what the new config adds. When
   * one cannot (a port in use), the reload fails; workers that did bind are drained and
   * respawned on the running config, since they hold listeners it does not name. `commit`
   * has nothing to do: the routing push that carries the new config commits each worker's
   * listeners with it.
   */
  reloadStep(config: Config): ReloadStep {
    return {
      prepare: async () => {
        const workers = this.live();
        const answers = await Promise.all(workers.map((h) => h.request((seq) => ({ t: 'reload', seq, config }), ACK_TIMEOUT)));
        const errors: string[] = [];
        const prepared: WorkerHandle[] = [];
        answers.forEach((answer, i) => {
          const h = workers[i] as WorkerHandle;
          if (answer?.t === 'ack' && answer.error !== undefined) errors.push(answer.error);
          else if (answer !== undefined) prepared.push(h);
          // A worker that did not answer is replaced; its successor binds what the config adds when the routing push reaches it.
          else if (h.alive) void this.replace(h, `did not answer the reload within ${ACK_TIMEOUT} ms`);
        });
        if (errors.length === 0) return;
        for (const h of prepared) this.drain(h, config.shutdown_timeout);
        throw new Error(errors[0]);
      },
      commit: () => undefined,
    };
  }

  port(listener: string): number {
    const port = this.ports()[listener];
    if (port === undefined) throw new Error(`no listener ${listener}`);
    return port;
  }

  ports(): Record<string, number> {
    return this.live().find((h) => h.state === 'ready')?.ports ?? {};
  }

  defaultCerts(): ReadonlySet<string> {
    const names = new Set<string>();
    for (const l of this.controller.currentConfig.listeners) if (l.tls && l.default_cert !== undefined) names.add(l.default_cert);
    return names;
  }

  /** Every worker drains (in-flight requests get `timeout` ms) and exits; one that outlasts it is killed. */
  async close(timeout: number): Promise<void> {
    this.stopping = true;
    const workers = this.live();
    for (const h of workers) this.drain(h, timeout);
    await Promise.all(
      workers.map(async (h) => {
        const deadline = new Promise((resolve) => setTimeout(resolve, timeout + STOP_GRACE).unref());
        await Promise.race([h.exited, deadline]);
        if (h.alive) {
          h.worker.process.kill('SIGKILL');
          await h.exited;
        }
      }),
    );
  }

  /** Asks every worker for its counts now (before /metrics or a status answer); the metrics load them when read. */
  async refreshCounts(): Promise<void> {
    await Promise.all(this.live().map((h) => h.request((seq) => ({ t: 'report', seq }), REPORT_TIMEOUT)));
  }

  async workers(): Promise<WorkersView> {
    await this.refreshCounts();
    const now = Date.now();
    const workers = this.slots.flatMap((slot) => (slot.current?.alive ? [slot.current.view(slot.restarts, now)] : []));
    return { mode: 'workers', scheduling: cluster.schedulingPolicy === cluster.SCHED_RR ? 'rr' : 'none', workers };
  }

  /** Loads the group's counts into the metrics when reports came in since the last time. */
  private loadCounts(): void {
    if (!this.countsChanged) return;
    this.countsChanged = false;
    this.metrics?.loadCounts(this.counts.entries(this.controller.currentConfig.metrics.per_worker));
  }

  private live(): WorkerHandle[] {
    return this.slots.flatMap((slot) => (slot.current?.alive ? [slot.current] : []));
  }

  private spawn(slot: Slot): WorkerHandle {
    const handle = new WorkerHandle(cluster.fork(), slot.id, slot.processes++);
    slot.current = handle;
    handle.worker.on('message', (message: unknown) => {
      if (isMessage<FromWorker>(message)) this.received(handle, message);
    });
    handle.worker.on('exit', (code: number | null, signal: string | null) => this.exited(slot, handle, code, signal));
    // An IPC write to a process that just died: its exit is handled above.
    handle.worker.on('error', (err: Error) => this.log.debug({ worker: slot.id, err: err.message }, 'worker channel error'));
    const snapshot = this.controller.snapshot;
    const certificates = this.certificates.list().flatMap(({ name, hosts }): CertificateChange[] => {
      const pair = this.certificates.keyPair(name);
      return pair ? [{ action: 'set', name, hosts, cert: pair.cert, key: pair.key, keyType: pair.keyType }] : [];
    });
    const challenges = this.challenges.pending();
    handle.send({ t: 'init', id: slot.id, incarnation: handle.incarnation, routing: this.encoder.full(snapshot), certificates, challenges });
    return handle;
  }

  private received(h: WorkerHandle, message: FromWorker): void {
    switch (message.t) {
      case 'hello':
        h.hello();
        return;
      case 'ready':
        h.listening(message.ports);
        if (this.started) this.log.info({ worker: h.id, pid: h.pid }, 'worker respawned and listening');
        return;
      case 'failed':
        this.log.error({ worker: h.id, pid: h.pid, err: message.message }, 'worker could not start');
        h.failed(message.message);
        return;
      case 'ack':
        h.generation = Math.max(h.generation, message.generation);
        if (message.ports !== undefined) h.ports = message.ports;
        h.answered(message);
        return;
      case 'report':
        this.counts.update(h.worker.id, h.id, message.report.counts);
        if (message.report.counts.length > 0) this.countsChanged = true;
        h.noteReport(message.report);
        h.answered(message);
        return;
      case 'ejected':
        this.applyEjection(message.health);
        return;
      case 'event':
        this.controller.events.publish(message.event);
        return;
      default:
        message satisfies never;
    }
  }

  private exited(slot: Slot, h: WorkerHandle, code: number | null, signal: string | null): void {
    const stopped = h.state === 'stopping';
    h.died(code, signal);
    setTimeout(() => {
      this.counts.retire(h.worker.id);
      this.countsChanged = true;
    }, RETIRE_DELAY).unref();
    if (slot.current === h) slot.current = undefined;
    if (this.stopping || !this.started) return;
    const reason: RestartReason = h.replaced ? 'replaced' : stopped ? 'drained' : 'exited';
    this.restarted(reason);
    const delay = respawnDelay(slot, Date.now());
    const fields = { worker: slot.id, pid: h.pid, code, signal, reason, restarts: slot.restarts, delay };
    if (reason === 'drained') this.log.info(fields, 'worker drained; respawning');
    else this.log.warn(fields, h.replaced ? 'worker replaced; respawning' : 'worker died; respawning');
    const respawn = () => {
      if (this.stopping) return;
      try {
        this.spawn(slot);
      } catch (err) {
        // fork itself failed (no memory, no process slots): try again rather than give the worker number up.
        this.log.error({ worker: slot.id, err: (err as Error).message }, 'worker could not be forked; retrying in 1 s');
        setTimeout(respawn, 1000).unref();
      }
    };
    if (delay === 0) respawn();
    else setTimeout(respawn, delay).unref();
  }

  private async pushRouting(snapshot: RoutingSnapshot): Promise<void> {
    const routing = this.encoder.next(snapshot);
    await this.broadcast((seq) => ({ t: 'routing', seq, routing }), `routing generation ${snapshot.generation}`);
  }

  private async pushCertificate(change: CertificateChange): Promise<void> {
    await this.broadcast((seq) => ({ t: 'certificate', seq, change }), `certificate ${change.name}`);
  }

  /**
   * Sends to every live worker and waits for each one's acknowledgement; a worker silent
   * past ACK_TIMEOUT is killed first. A process still booting (no hello yet) is not waited
   * for: this message is held for it behind its init, and it listens only after both.
   */
  private async broadcast(make: (seq: number) => ToWorker, what: string): Promise<void> {
    await Promise.all(
      this.live().map(async (h) => {
        if (!h.attached) {
          h.send(make(0));
          return;
        }
        const answer = await h.request(make, ACK_TIMEOUT);
        if (answer === undefined && h.alive) await this.replace(h, `did not acknowledge ${what} within ${ACK_TIMEOUT} ms`);
      }),
    );
  }

  /** Kills a worker that stopped answering and waits until it is gone (it is respawned from the current state). */
  private async replace(h: WorkerHandle, why: string): Promise<void> {
    this.log.warn({ worker: h.id, pid: h.pid }, `worker ${why}: replacing it`);
    h.replaced = true;
    h.worker.process.kill('SIGKILL');
    await h.exited;
  }

  /** Asks a worker to drain and exit. */
  private drain(h: WorkerHandle, timeout: number): void {
    h.state = 'stopping';
    h.send({ t: 'stop', timeout });
  }

  private sendAll(message: ToWorker): void {
    for (const h of this.live()) h.send(message);
  }

  private targetOf(health: Pick<TargetHealth, 'service' | 'stack' | 'target'>) {
    return this.controller.snapshot.services
      .get(health.service)
      ?.stacks.get(health.stack)
      ?.targets.find((t) => t.address === health.target);
  }

  /** A worker ejected a target: the primary's target takes it, and the health event sends it to every worker. */
  private applyEjection(health: TargetHealth): void {
    const target = this.targetOf(health);
    if (target === undefined || health.ejectedUntil <= target.ejectedUntil) return;
    target.eject(health.ejectedUntil);
    const { service, stack, target: address } = health;
    const time = new Date().toISOString();
    this.controller.events.publish({
      type: 'health',
      time,
      service,
      stack,
      target: address,
      healthy: false,
      source: 'passive',
      error: 'ejected after consecutive failures',
    });
  }

  private openWebSockets(service: string, stack: string): number {
    const key = `${service}\u0000${stack}`;
    let n = 0;
    for (const h of this.live()) n += h.websockets.get(key) ?? 0;
    return n;
  }
}
