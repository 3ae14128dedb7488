import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { trackInTest } from './cleanup.js';

/** A real upstream on a free loopback port. */
export interface Upstream {
  server: Server;
  port: number;
  address: string;
  /** Requests seen, in order. */
  requests: IncomingMessage[];
  close(): Promise<void>;
}

/** Starts an upstream that answers `body` (or runs `handler`); /health answers per `healthy()`. Started in a test, it is closed when the test ends. */
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
  return trackInTest<Upstream>({
    server,
    port,
    address: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** Two upstreams answering "blue" and "green", and a service `web` with one stack on each. */
export interface BlueGreen {
  blue: Upstream;
  green: Upstream;
  /** `stacks` of a service: `blue` and `green`, one target each. */
  stacks: { blue: { targets: string[] }; green: { targets: string[] } };
  /** `[{ name: 'web', stacks, ...service }]`, for `startSwitchyard`. */
  services: Record<string, unknown>[];
}

/** Starts a blue and a green upstream; `service` is merged into the `web` service; `healthy` drives each one's /health. */
export async function startBlueGreen(service: Record<string, unknown> = {}, healthy: { blue?: () => boolean; green?: () => boolean } = {}): Promise<BlueGreen> {
  const blue = await startUpstream('blue', undefined, healthy.blue);
  const green = await startUpstream('green', undefined, healthy.green);
  const stacks = { blue: { targets: [blue.address] }, green: { targets: [green.address] } };
  return { blue, green, stacks, services: [{ name: 'web', stacks, ...service }] };
}
