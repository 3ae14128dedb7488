import type { Duplex } from 'node:stream';

/** Close frames a server sends (unmasked, RFC 6455 §5.5.1): 1001 going away, 1009 message too big. */
export const CLOSE_GOING_AWAY = Buffer.from([0x88, 0x02, 0x03, 0xe9]);
const CLOSE_TOO_BIG = Buffer.from([0x88, 0x02, 0x03, 0xf1]);

/** Limits for one proxied WebSocket. */
export interface WebSocketLimits {
  /** Largest message (all frames of it) a client may send, in bytes. */
  readonly maxMessage: number;
  /** A WebSocket with no traffic either way for this long is closed (ms). */
  readonly idleTimeout: number;
}

/** Ends a client WebSocket with a close frame; the error makes http-proxy end the upstream side too. */
function closeWith(socket: Duplex, frame: Buffer, reason: string): void {
  if (socket.writable) socket.write(frame);
  socket.destroy(new Error(reason));
}

/**
 * Watches the frames a client sends through a spliced WebSocket without touching the
 * bytes: it only reads frame headers and skips payloads by length, so the cost is a
 * few comparisons per chunk. A message over `maxMessage` closes the connection with
 * 1009, as ws's `maxPayload` does for a terminating server; silence beyond
 * `idleTimeout` closes it with 1001 (HAProxy's `timeout tunnel`).
 */
export class WebSocketGuard {
  private readonly socket: Duplex;
  private readonly maxMessage: number;
  /** Header bytes of the frame being read (at most 14), and how many are filled. */
  private readonly header = Buffer.alloc(14);
  private filled = 0;
  /** Payload bytes of the current frame still to skip. */
  private remaining = 0;
  /** Bytes of the current (possibly fragmented) data message so far. */
  private message = 0;

  constructor(socket: Duplex & { setTimeout?(ms: number): unknown }, limits: WebSocketLimits) {
    this.socket = socket;
    this.maxMessage = limits.maxMessage;
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    if (typeof socket.setTimeout === 'function') {
      socket.setTimeout(limits.idleTimeout);
      socket.once('timeout', () => closeWith(socket, CLOSE_GOING_AWAY, 'websocket idle timeout'));
    }
  }

  /** Feeds client bytes (also the `head` that came with the upgrade). */
  read(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining > 0) {
        const skip = Math.min(this.remaining, chunk.length - at);
        this.remaining -= skip;
        at += skip;
        continue;
      }
      const take = Math.min(this.headerLength() - this.filled, chunk.length - at);
      chunk.copy(this.header, this.filled, at, at + take);
      this.filled += take;
      at += take;
      if (this.filled === this.headerLength() && !this.frame()) return;
    }
  }

  /** Length of the current frame header, as far as its first bytes tell. */
  private headerLength(): number {
    if (this.filled < 2) return 2;
    const len7 = (this.header[1] as number) & 0x7f;
    const mask = (this.header[1] as number) & 0x80 ? 4 : 0;
    return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + mask;
  }

  /** A frame header is complete: account for it; false when the connection was closed. */
  private frame(): boolean {
    const h = this.header;
    this.filled = 0;
    const len7 = (h[1] as number) & 0x7f;
    const length = len7 === 126 ? h.readUInt16BE(2) : len7 === 127 ? Number(h.readBigUInt64BE(2)) : len7;
    const opcode = (h[0] as number) & 0x0f;
    const fin = ((h[0] as number) & 0x80) !== 0;
    this.remaining = length;
    if (opcode >= 0x8) return true; // control frames are tiny and not part of a message
    this.message += length;
    if (this.message > this.maxMessage) {
      closeWith(this.socket, CLOSE_TOO_BIG, 'websocket message too big');
      return false;
    }
    if (fin) this.message = 0;
    return true;
  }
}
