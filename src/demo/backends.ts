import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { splitHostPort } from '../net/host-port.js';

/**
 * With `demo_backends: true`, switchyard starts a tiny server at every loopback target
 * of every stack, answering `hello from <stack>` (and `OK` on /health), so the demo
 * cut-over works from a fresh clone. A backend that cannot listen (the port is taken)
 * is logged and skipped: a demo convenience never stops a start.
 */
export async function startDemoBackends(config: Config, log: Logger): Promise<Server[]> {
  const servers: Server[] = [];
  const started = new Set<string>();
  for (const service of config.services) {
    for (const [stack, { targets }] of Object.entries(service.stacks)) {
      for (const address of targets) {
        const { host, port } = splitHostPort(address);
        if (started.has(address) || !(host === 'localhost' || host.startsWith('127.'))) continue;
        started.add(address);
        const body = `hello from ${stack}\n`;
        const server = createServer((req, res) => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end(req.url === '/health' ? 'OK\n' : body);
        });
        try {
          await new Promise<void>((resolve, reject) => {
            server.once('error', reject);
            server.listen(port, host, () => resolve());
          });
        } catch (err) {
          log.warn({ service: service.name, stack, address, err: (err as Error).message }, 'demo backend cannot listen; skipped');
          continue;
        }
        // A server error after listening has no one to reject any more: log it, never throw it.
        server.on('error', (err) => log.warn({ address, err: err.message }, 'demo backend error'));
        log.info({ service: service.name, stack, address }, 'demo backend listening');
        servers.push(server);
      }
    }
  }
  return servers;
}
