import { createServer, type Server, type Socket } from 'node:net';
import { trackInTest } from './cleanup.js';

/** A raw TCP upstream that records every byte it receives and answers each request head with a 200. */
export interface SpyUpstream {
  address: string;
  /** Everything received, across connections. */
  received(): string;
  close(): Promise<void>;
}

/** Starts a spy upstream on a free loopback port; started in a test, it is closed when the test ends. */
export async function startSpyUpstream(): Promise<SpyUpstream> {
  let received = '';
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      pending += chunk.toString('latin1');
      // Answer once per complete head; bodies in these tests are small or absent.
      while (pending.includes('\r\n\r\n')) {
        pending = pending.slice(pending.indexOf('\r\n\r\n') + 4);
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return trackInTest<SpyUpstream>({
    address: `127.0.0.1:${(server.address() as { port: number }).port}`,
    received: () => received,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
}
