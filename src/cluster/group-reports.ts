import type { Metrics } from '../metrics/metrics.js';
import { GroupCounts } from './group-counts.js';
import type { WorkerReport } from './protocol.js';
import type { WorkerHandle } from './worker-handle.js';

/** A report that takes longer than this is left out of a scrape (the worker's previous one counts). */
const REPORT_TIMEOUT = 1000;
/** A dead process's late messages (its last report) are still taken this long before its counts are retired. */
const RETIRE_DELAY = 1000;

/**
 * What the workers report, gathered in the primary: their request counts, loaded into the
 * metrics when those are read (and only when a report came in since), and their open
 * WebSockets. Apart from the group, which only hands it each report and each death,
 * because this is the part the metrics and the admin API read of the workers.
 */
export class GroupReports {
  private readonly counts = new GroupCounts();
  private readonly metrics: Metrics | undefined;
  /** The live worker processes. */
  private readonly live: () => readonly WorkerHandle[];
  /** Whether the counts are labelled per worker (`metrics.per_worker` of the running config). */
  private readonly perWorker: () => boolean;
  /** Reports arrived since the metrics last loaded the group's counts. */
  private changed = true;

  constructor(metrics: Metrics | undefined, live: () => readonly WorkerHandle[], perWorker: () => boolean) {
    this.metrics = metrics;
    this.live = live;
    this.perWorker = perWorker;
    // Workers report changed counts every second unasked: what the dashboard's figures read between scrapes.
    metrics?.onRead(() => this.load());
  }

  /** Takes a report of worker `h`: its counts for the metrics, the rest for its handle. */
  take(h: WorkerHandle, report: WorkerReport): void {
    this.counts.update(h.worker.id, h.id, report.counts);
    if (report.counts.length > 0) this.changed = true;
    h.noteReport(report);
  }

  /** Worker `h` died: once its late messages had RETIRE_DELAY to arrive, its counts are retired. */
  retire(h: WorkerHandle): void {
    setTimeout(() => {
      this.counts.retire(h.worker.id);
      this.changed = true;
    }, RETIRE_DELAY).unref();
  }

  /** Asks every worker for its counts now (before /metrics or a status answer); the metrics load them when read. */
  async refresh(): Promise<void> {
    await Promise.all(this.live().map((h) => h.request((seq) => ({ t: 'report', seq }), REPORT_TIMEOUT)));
  }

  /** Open WebSockets of `service` and `stack`, summed over the workers' last reports. */
  websockets(service: string, stack: string): number {
    const key = `${service}\u0000${stack}`;
    let n = 0;
    for (const h of this.live()) n += h.websockets.get(key) ?? 0;
    return n;
  }

  /** Loads the group's counts into the metrics when reports came in since the last time. */
  private load(): void {
    if (!this.changed) return;
    this.changed = false;
    this.metrics?.loadCounts(this.counts.entries(this.perWorker()));
  }
}
