import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERRORS, type ErrorCode } from '../errors.js';

/**
 * Longest a closing socket may take to flush its last bytes before it is destroyed (ms).
 * A peer that never reads, or a TLS socket whose handshake never finished, would
 * otherwise hold the socket (and its file descriptor) for good.
 */
export const CLOSE_GRACE = 1000;

/** Methods switchyard forwards: the `Allow` of the 405 to CONNECT and of the 200 to `OPTIONS *`. */
export const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS';

/** What a refusal may add to the catalogue answer. */
export interface RefuseOptions {
  /** Replaces the catalogue message in the JSON body. */
  readonly message?: string;
  /** One extra header line, without CRLF (e.g. `Allow: …`). */
  readonly header?: string;
  /** The request was HEAD: the answer carries no body (RFC 9110 §9.3.2). */
  readonly head?: boolean;
}

function ignore(): void {}

function destroyNow(socket: Duplex): void {
  socket.destroy();
}

/**
 * Ends `socket` after `bytes` (if any) and destroys it once they are flushed, or after
 * CLOSE_GRACE, whichever comes first: never leaves a socket waiting for a flush.
 */
export function closeSocket(socket: Duplex, bytes?: string | Buffer): void {
  if (socket.destroyed) return;
  if (socket.listenerCount('error') === 0) socket.on('error', ignore);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const timer = setTimeout(destroyNow, CLOSE_GRACE, socket);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  const done = (): void => {
    socket.destroy();
  };
  if (bytes === undefined) socket.end(done);
  else socket.end(bytes, done);
}

/**
 * The one way switchyard refuses a request it has no response object for (client errors,
 * CONNECT, refused upgrades, the admin event stream): the catalogue status with its JSON
 * body, `Connection: close`, and a socket destroyed after the flush (bounded by CLOSE_GRACE).
 */
export function refuse(socket: Duplex, code: ErrorCode, options: RefuseOptions = {}): void {
  const status = ERRORS[code].status;
  const body = options.head === true ? '' : `{"error":{"code":"${code}","message":${JSON.stringify(options.message ?? ERRORS[code].message)}}}\n`;
  const extra = options.header === undefined ? '' : `${options.header}\r\n`;
  closeSocket(
    socket,
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`,
  );
}
