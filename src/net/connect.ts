import { connect, Socket, type NetConnectOpts } from 'node:net';

/**
 * `net.connect`, except that options it refuses synchronously (a port outside 0–65535
 * throws ERR_SOCKET_BAD_PORT) give a socket that fails on the next tick with that error,
 * as a refused connection does. Callers run in timer and socket callbacks, where a throw
 * would take the process down (issue 11); this way every failure takes the error path.
 */
export function connectOrFail(options: NetConnectOpts): Socket {
  try {
    return connect(options);
  } catch (err) {
    const socket = new Socket();
    process.nextTick(() => socket.destroy(err as Error));
    return socket;
  }
}
