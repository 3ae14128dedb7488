import cluster from 'node:cluster';
import type { Logger } from 'pino';
import type { ChallengeResponder } from '../acme/challenges.js';
import type { WorkersView } from '../admin/routes/workers.js';
import type { Config } from '../config/schema.js';
import type { ControlParts, DataPlane } from '../data-plane.js';
import type { SwitchyardEvent } from '../events/bus.js';
import type { RoutingSnapshot } from '../routing/snapshot.js';
import type { ReloadStep, StateController } from '../state/controller.js';
import type { CertificateChange, CertificateStore } from '../tls/store.js';
import { applyEjection, relayedEvent } from './group-health.js';
import { groupMetrics, type RestartReason } from './group-metrics.js';
import { broadcast, prepareReload } from './group-push.js';
import { GroupReports } from './group-reports.js';
import { type FromWorker, isMessage, type ToWorker } from './protocol.js';
import { RoutingEncoder } from './snapshot-wire.js';
import { newSlot, respawnDelay, type Slot } from './slot.js';
import { WorkerHandle } from './worker-handle.js';

/** Beyond shutdown_timeout, how long a draining worker has to exit before it is killed. */
const STOP_GRACE = 2000;

/**
 * The data plane as N worker processes (node:cluster: the primary opens each listening
 * socket and shares it, and each worker accepts on it; see primary.ts). Every routing
 * snapshot and certificate change goes to every live worker and is awaited: a change
 * answers only once each has acknowledged it, and a worker that has not within ACK_TIMEOUT
 * is killed (its exit awaited) before the answer, so none serves the old state after it. A
 * worker that dies is respawned and starts from the current state; passive ejections and
 * failovers seen by one worker come back here and go to all. What goes with every change
 * is in group-push.ts, the workers' reports in group-reports.ts, target health in
 * group-health.ts; this class forks, respawns and stops the processes.
 */
export class WorkerGroup implements DataPlane {
  /** Open WebSockets per service and stack, summed over the workers' last reports. */
  readonly websockets = { count: (service: string, stack: string): number => this.reports.websockets(service, stack) };
  private readonly controller: StateController;
  private readonly certificates: CertificateStore;
  private readonly challenges: ChallengeResponder;
  private readonly log: Logger;
  private readonly slots: Slot[];
  private readonly reports: GroupReports;
  private readonly encoder = new RoutingEncoder();
  private readonly restarted: (reason: RestartReason) => void;
  private started = false;
  private stopping = false;

  constructor(parts: ControlParts, count: number) {
    this.controller = parts.controller;
    this.certificates = parts.certificates;
    this.log = parts.log;
    this.slots = Array.from({ length: count }, (_, i) => newSlot(i + 1));
    this.controller.applyWith((snapshot) => this.pushRouting(snapshot));
    this.certificates.applyWith((change) => this.pushCertificate(change));
    this.challenges = parts.challenges;
    this.challenges.replicateWith((change) => broadcast(this.live(), (seq) => ({ t: 'challenge', seq, change }), `ACME token ${change.token}`, this.log));
    this.restarted = groupMetrics(parts.metrics, () => this.live().length);
    const perWorker = () => this.controller.currentConfig.metrics.per_worker;
    this.reports = new GroupReports(parts.metrics, () => this.live(), perWorker);
  }

  /** Health changes go to every worker; switches too, for their WebSocket drains. */
  readonly onEvent = (event: SwitchyardEvent): void => {
    const message = relayedEvent(this.controller.snapshot, event);
    if (message !== undefined) this.sendAll(message);
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
    return { prepare: () => prepareReload(this.live(), config, this.log), commit: () => undefined };
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
    for (const h of workers) h.drain(timeout);
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
  refreshCounts(): Promise<void> {
    return this.reports.refresh();
  }

  async workers(): Promise<WorkersView> {
    await this.refreshCounts();
    const now = Date.now();
    const workers = this.slots.flatMap((slot) => (slot.current?.alive ? [slot.current.view(slot.restarts, now)] : []));
    return { mode: 'workers', scheduling: cluster.schedulingPolicy === cluster.SCHED_RR ? 'rr' : 'none', workers };
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
        this.reports.take(h, message.report);
        h.answered(message);
        return;
      case 'ejected':
        applyEjection(this.controller, message.health);
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
    this.reports.retire(h);
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
    await broadcast(this.live(), (seq) => ({ t: 'routing', seq, routing }), `routing generation ${snapshot.generation}`, this.log);
  }

  private async pushCertificate(change: CertificateChange): Promise<void> {
    await broadcast(this.live(), (seq) => ({ t: 'certificate', seq, change }), `certificate ${change.name}`, this.log);
  }

  private sendAll(message: ToWorker): void {
    for (const h of this.live()) h.send(message);
  }
}
