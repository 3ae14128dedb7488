import { DURATION_BUCKETS, type LabelledCounts, ResponseCounters, type StackCounts } from '../metrics/stack-series.js';

/** One worker process's running totals, as last reported. */
interface Reported {
  readonly id: number;
  readonly series: Map<string, StackCounts>;
}

const keyOf = (counts: StackCounts) => `${counts.service}\u0000${counts.stack}`;

/**
 * The request counters of the whole group, for one /metrics page. Each worker process
 * reports running totals; when it dies, what it last reported is kept (added to what the
 * earlier processes of its worker number left), so a sum never goes down.
 */
export class GroupCounts {
  /** By cluster worker id (one per process, never reused). */
  private readonly live = new Map<number, Reported>();
  /** By worker number: what its dead processes counted. */
  private readonly retired = new Map<number, ResponseCounters>();

  /** Takes a report of process `process` (worker number `id`): each series it names is replaced. */
  update(process: number, id: number, counts: readonly StackCounts[]): void {
    let reported = this.live.get(process);
    if (reported === undefined) {
      reported = { id, series: new Map() };
      this.live.set(process, reported);
    }
    for (const c of counts) reported.series.set(keyOf(c), c);
  }

  /** Process `process` is gone: its last report joins its worker number's retired counts. */
  retire(process: number): void {
    const reported = this.live.get(process);
    if (reported === undefined) return;
    this.live.delete(process);
    let retired = this.retired.get(reported.id);
    if (retired === undefined) {
      retired = new ResponseCounters(DURATION_BUCKETS);
      this.retired.set(reported.id, retired);
    }
    for (const c of reported.series.values()) retired.of(c.service, c.stack).add(c);
  }

  /** Every count, labelled with its worker number when `perWorker` (else the page sums them). */
  entries(perWorker: boolean): LabelledCounts[] {
    const label = (id: number) => (perWorker ? String(id) : undefined);
    const out: LabelledCounts[] = [];
    for (const [id, counters] of this.retired) for (const s of counters.all()) out.push({ worker: label(id), counts: s.toCounts() });
    for (const reported of this.live.values()) for (const counts of reported.series.values()) out.push({ worker: label(reported.id), counts });
    return out;
  }
}
