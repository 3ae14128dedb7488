import type { Exchange } from './exchange.js';

/**
 * Request bodies up to this size (with a Content-Length) are read in full before the
 * first attempt, so a reset on a stale pooled socket can send them again.
 */
const REPLAYABLE_BODY_LIMIT = 64 * 1024;

/** Buffered request bodies, by exchange. */
const replayable = new WeakMap<Exchange, Buffer>();

/** The whole buffered body of `exchange`, or undefined when it streams. */
export function bufferedBody(exchange: Exchange): Buffer | undefined {
  return replayable.get(exchange);
}

/** True when the body is small and framed by Content-Length, so buffering it is cheap. */
export function isReplayable(exchange: Exchange): boolean {
  const headers = exchange.req.headers;
  return headers['transfer-encoding'] === undefined && Number(headers['content-length']) <= REPLAYABLE_BODY_LIMIT;
}

/** Reads a small body completely, then calls `start`; a client that goes away meanwhile just ends it. */
export function bufferBody(exchange: Exchange, start: (exchange: Exchange) => void): void {
  const length = Number(exchange.req.headers['content-length']);
  const chunks: Buffer[] = [];
  let size = 0;
  const req = exchange.req;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= length) chunks.push(chunk);
  });
  req.once('end', () => {
    if (exchange.done) return;
    replayable.set(exchange, Buffer.concat(chunks, Math.min(size, length)));
    start(exchange);
  });
}
