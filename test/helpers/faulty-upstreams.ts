import { createServer, type Server, type Socket } from 'node:net';
import { trackInTest } from './cleanup.js';

/** How a faulty upstream misbehaves. */
export type Fault =
  /** Answers 200 normally until `kill()`: then every socket is destroyed and the port closed (SIGKILL-like). */
  | 'healthy-until-killed'
  /** Resets every connection as soon as it is accepted. */
  | 'reset-on-connect'
  /** Accepts, reads, never answers. */
  | 'black-hole'
  /** Answers the first request on a socket, then resets the socket exactly when a second request arrives (nodejs/node#47130). */
  | 'close-on-reuse'
  /** Answers with broken framing: an invalid status line. */
  | 'bad-status-line'
  /** Answers with both Content-Length and Transfer-Encoding. */
  | 'cl-and-te'
  /** Answers chunked with an invalid chunk size. */
  | 'bad-chunk';

export interface FaultyUpstream {
  address: string;
  /** Connections accepted so far. */
  connections(): number;
  /** Request heads seen so far. */
  requests(): number;
  /** Abrupt death: destroy every socket and stop listening. */
  kill(): Promise<void>;
  close(): Promise<void>;
}

const OK = (body: string): string => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nKeep-Alive: timeout=60\r\n\r\n${body}`;

const BROKEN: Partial<Record<Fault, string>> = {
  'bad-status-line': 'HTTP/1.1 2OO NOPE\r\nContent-Length: 2\r\n\r\nok',
  'cl-and-te': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
  'bad-chunk': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n',
};

/** Starts an in-process upstream with `fault`, built on node:net so the misbehaviour is exact; closed when the test ends. */
export async function startFaultyUpstream(fault: Fault, body = 'ok'): Promise<FaultyUpstream> {
  const sockets = new Set<Socket>();
  let connections = 0;
  let requests = 0;
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    if (fault === 'reset-on-connect') {
      socket.resetAndDestroy();
      return;
    }
    let pending = '';
    let served = 0;
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      while (pending.includes('\r\n\r\n')) {
        pending = pending.slice(pending.indexOf('\r\n\r\n') + 4);
        requests++;
        if (fault === 'black-hole') continue;
        if (fault === 'close-on-reuse' && served > 0) {
          socket.resetAndDestroy();
          return;
        }
        served++;
        socket.write(BROKEN[fault] ?? OK(body));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const kill = (): Promise<void> =>
    new Promise((resolve) => {
      for (const s of sockets) s.resetAndDestroy();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  return trackInTest<FaultyUpstream>({ address: `127.0.0.1:${port}`, connections: () => connections, requests: () => requests, kill, close: kill });
}
