/**
 * Holds watch deliveries while this instance has writes in flight. etcd may push a
 * write's watch event before the write's own answer arrives; holding the event until the
 * answer is in lets the store recognise it as its own (and drop it) instead of reporting
 * it as someone else's change. Deliveries keep their order; writes are bounded by the
 * client timeout, so nothing is held longer than that.
 */
export class WriteGate {
  private inflight = 0;
  private readonly held: (() => void)[] = [];

  /** Runs a write; deliveries that arrive meanwhile wait for it (and any other write) to settle. */
  async write<T>(work: () => Promise<T>): Promise<T> {
    this.inflight++;
    try {
      return await work();
    } finally {
      this.inflight--;
      this.drain();
    }
  }

  /** Runs `delivery` now, or after the writes in flight have settled. */
  deliver(delivery: () => void): void {
    if (this.inflight === 0 && this.held.length === 0) delivery();
    else this.held.push(delivery);
  }

  private drain(): void {
    while (this.inflight === 0 && this.held.length > 0) this.held.shift()?.();
  }
}
