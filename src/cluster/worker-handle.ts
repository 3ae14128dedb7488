import type { Worker } from 'node:cluster';
import type { WorkerView } from '../admin/routes/workers.js';
import type { FromWorker, ToWorker, WorkerReport } from './protocol.js';

/** Where a worker process is in its life. */
export type WorkerState = 'starting' | 'ready' | 'stopping' | 'dead';

/** An answer to a message with a `seq`. */
type Answer = Extract<FromWorker, { seq: number | undefined }>;

/**
 * The primary's side of one worker process: its IPC channel with request/answer pairing
 * (by `seq`), what it last said about itself, and its end.
 */
export class WorkerHandle {
  readonly worker: Worker;
  /** Worker number, 1…N, kept by a respawned process. */
  readonly id: number;
  /** How many processes of this number came before this one. */
  readonly incarnation: number;
  readonly startedAt = Date.now();
  state: WorkerState = 'starting';
  /** Routing generation it acknowledged last. */
  generation = 0;
  /** Responses it has sent (as last reported; null when metrics are off). */
  requests: number | null = null;
  /** Listener name → bound port, from its ready message. */
  ports: Record<string, number> = {};
  /** Open WebSockets per `service \0 stack`, as last reported. */
  websockets = new Map<string, number>();
  /** Resolves once the process is gone. */
  readonly exited: Promise<void>;
  /** Resolves when it listens; rejects when it cannot start or dies first. */
  readonly ready: Promise<void>;
  /** Set when the primary killed it for not answering (for the log line of its exit). */
  replaced = false;
  private markExited: () => void = () => undefined;
  private markReady: () => void = () => undefined;
  private markFailed: (err: Error) => void = () => undefined;
  private seq = 0;
  /** Messages held until the process says hello (one sent earlier would be dropped). */
  private outbox: ToWorker[] | undefined = [];
  private readonly waiting = new Map<number, (answer: Answer | undefined) => void>();

  constructor(worker: Worker, id: number, incarnation: number) {
    this.worker = worker;
    this.id = id;
    this.incarnation = incarnation;
    this.exited = new Promise((resolve) => {
      this.markExited = resolve;
    });
    this.ready = new Promise((resolve, reject) => {
      this.markReady = resolve;
      this.markFailed = reject;
    });
    // Only a start awaits readiness; a respawn that fails is handled by its exit.
    this.ready.catch(() => undefined);
  }

  /** True once it said hello (before that it holds no state and serves nothing). */
  get attached(): boolean {
    return this.outbox === undefined;
  }

  /** Its handler is attached: everything held goes now, in order. */
  hello(): void {
    const held = this.outbox ?? [];
    this.outbox = undefined;
    for (const message of held) this.send(message);
  }

  /** It listens on `ports`. */
  listening(ports: Record<string, number>): void {
    this.state = 'ready';
    this.ports = ports;
    this.markReady();
  }

  /** It could not start. */
  failed(message: string): void {
    this.markFailed(new Error(message));
  }

  /** Its process id. */
  get pid(): number {
    return this.worker.process.pid ?? 0;
  }

  /** Not dead yet (starting, serving or draining). */
  get alive(): boolean {
    return this.state !== 'dead';
  }

  /** Sends without waiting, in order; a message to a process that is gone is dropped (its exit is handled on its own). */
  send(message: ToWorker): void {
    if (this.outbox !== undefined) {
      this.outbox.push(message);
      return;
    }
    if (!this.alive || !this.worker.isConnected()) return;
    try {
      this.worker.send(message, undefined, () => undefined);
    } catch {
      // The channel closed in between: the exit handler deals with the process.
    }
  }

  /** Asks it to drain (in-flight requests get `timeout` ms) and exit. */
  drain(timeout: number): void {
    this.state = 'stopping';
    this.send({ t: 'stop', timeout });
  }

  /** Sends a message made for a fresh `seq` and resolves with its answer, or undefined after `timeout` ms or when the process dies. */
  request(make: (seq: number) => ToWorker, timeout: number): Promise<Answer | undefined> {
    if (!this.alive) return Promise.resolve(undefined);
    const seq = ++this.seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle(undefined), timeout);
      const settle = (answer: Answer | undefined) => {
        clearTimeout(timer);
        this.waiting.delete(seq);
        resolve(answer);
      };
      this.waiting.set(seq, settle);
      this.send(make(seq));
    });
  }

  /** Takes an answer (`ack` or `report` with a seq) to a request. */
  answered(message: Answer): void {
    if (message.seq !== undefined) this.waiting.get(message.seq)?.(message);
  }

  /** Takes what a report says about the worker (the counts go to GroupCounts). */
  noteReport(report: WorkerReport): void {
    this.requests = report.requests;
    this.generation = Math.max(this.generation, report.generation);
    this.websockets = new Map(report.websockets.map(([service, stack, n]) => [`${service}\u0000${stack}`, n]));
  }

  /** What `GET /v1/workers` shows of it. */
  view(restarts: number, now: number): WorkerView {
    const state = this.state === 'dead' ? 'stopping' : this.state;
    const uptime_seconds = Math.round((now - this.startedAt) / 1000);
    return { id: this.id, pid: this.pid, state, generation: this.generation, requests: this.requests, uptime_seconds, restarts };
  }

  /** The process is gone: every pending request resolves undefined. */
  died(code: number | null, signal: string | null): void {
    this.state = 'dead';
    this.markFailed(new Error(`worker ${this.id} exited (${signal ?? `code ${code}`}) before it was ready`));
    for (const settle of [...this.waiting.values()]) settle(undefined);
    this.websockets.clear();
    this.markExited();
  }
}
