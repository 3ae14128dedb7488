import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A real upstream on a free loopback port. */
export interface Upstream {
  server: Server;
  port: number;
  address: string;
  /** Requests seen, in order. */
  requests: IncomingMessage[];
  close(): Promise<void>;
}

/** Starts an upstream that answers `body` (or runs `handler`); /health answers per `healthy()`. */
export async function startUpstream(
  body: string,
  handler?: (req: IncomingMessage, res: ServerResponse) => void,
  healthy: () => boolean = () => true,
): Promise<Upstream> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    if (req.url === '/health') {
      const ok = healthy();
      res.writeHead(ok ? 200 : 503).end(ok ? 'OK' : 'down');
      return;
    }
    requests.push(req);
    if (handler) return handler(req, res);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    address: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
