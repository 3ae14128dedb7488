import type { ServerResponse } from 'node:http';

/**
 * Ends nginx's `send_timeout` on an HTTP/1 response: a client that stopped taking bytes
 * had `limits.send_timeout` to take more; once it caught up after the response ended,
 * the timer goes. A `finish`/`drain` listener, shared by the engine and the response spool.
 */
export function clearSendTimeout(this: ServerResponse): void {
  this.setTimeout(0);
}
