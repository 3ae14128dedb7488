import type { IncomingMessage } from 'node:http';

/**
 * Bytes of request bodies one process holds in read-ahead buffers, bounded by
 * `limits.request_buffer_total`. Past the bound, bodies stop buffering where they are and
 * stream, as a body past `limits.request_buffer` does.
 */
export class BufferBudget {
  readonly total: number;
  private used = 0;

  constructor(total: number) {
    this.total = total;
  }

  /** Bytes held now. */
  get inUse(): number {
    return this.used;
  }

  /** Charges `bytes`; false when the total is now passed. */
  charge(bytes: number): boolean {
    this.used += bytes;
    return this.used <= this.total;
  }

  /** Gives `bytes` back. */
  refund(bytes: number): void {
    this.used -= bytes;
  }
}

/** Called once when a read-ahead ends: the body is complete, or its buffer is full and the rest must stream. */
export type BodyReady<T> = (owner: T, body: ReadAheadBody<T>) => void;

/**
 * A request body read ahead of forwarding, so no upstream connection is taken for a
 * client that trickles its body (slowhttptest -B): the body is read up to `limit` bytes
 * first. A body that ends within it is forwarded whole (with a Content-Length, also when
 * it came chunked) and can be sent again on a retry; a longer one is sent from the
 * buffer and then streams, at the pace of a client that has shown it sends. A client
 * that never fills the buffer is cut by `limits.request_timeout` without ever reaching
 * an upstream.
 */
export class ReadAheadBody<T> {
  readonly req: IncomingMessage;
  /** The whole body was read. */
  complete = false;
  private chunks: Buffer[] = [];
  private size = 0;
  private joined: Buffer | undefined;
  private settled = false;
  private released = false;
  private readonly limit: number;
  private readonly budget: BufferBudget;
  private readonly owner: T;
  private readonly ready: BodyReady<T>;

  constructor(req: IncomingMessage, limit: number, budget: BufferBudget, owner: T, ready: BodyReady<T>) {
    this.req = req;
    this.limit = limit;
    this.budget = budget;
    this.owner = owner;
    this.ready = ready;
    req.on('data', this.onData);
    req.once('end', this.onEnd);
  }

  /** The bytes read ahead: the whole body when `complete`, else its start. */
  get data(): Buffer {
    if (this.joined === undefined) {
      const chunks = this.chunks;
      this.joined = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, this.size);
      this.chunks = [this.joined];
    }
    return this.joined;
  }

  /** Drops the buffer and gives its bytes back to the budget (the exchange ended). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.budget.refund(this.size);
    this.chunks = [];
    this.joined = undefined;
    if (!this.settled) this.stop();
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.released) return;
    this.chunks.push(chunk);
    this.joined = undefined;
    this.size += chunk.length;
    const withinBudget = this.budget.charge(chunk.length);
    if (this.size > this.limit || !withinBudget) {
      // Full: the rest streams once an upstream connection is up.
      this.req.pause();
      this.stop();
      this.ready(this.owner, this);
    }
  };

  private readonly onEnd = (): void => {
    if (this.released) return;
    this.complete = true;
    this.stop();
    this.ready(this.owner, this);
  };

  private stop(): void {
    this.settled = true;
    this.req.off('data', this.onData);
    this.req.off('end', this.onEnd);
  }
}
