import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { splitHostPort } from '../net/host-port.js';

/** Path of a demo backend that sets the share of requests it fails with 500: `POST /_demo/fail?rate=0.1`. */
export const DEMO_FAIL_PATH = '/_demo/fail';

/**
 * A demo backend: `hello from <stack>`, `OK` on /health, and a failure switch for the
 * canary walk-through: after `POST /_demo/fail?rate=0.1` exactly one request in ten
 * (evenly spread, /health aside) answers 500, so anyone can watch an automatic abort.
 */
export function demoHandler(stack: string): (req: IncomingMessage, res: ServerResponse) => void {
  const body = `hello from ${stack}\n`;
  let rate = 0;
  let served = 0;
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://demo');
    if (url.pathname === DEMO_FAIL_PATH && req.method === 'POST') {
      const wanted = Number(url.searchParams.get('rate') ?? '0');
      rate = Number.isFinite(wanted) ? Math.min(1, Math.max(0, wanted)) : 0;
      served = 0;
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`${stack} fails ${rate * 100}% of requests\n`);
      return;
    }
    if (url.pathname === '/health') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('OK\n');
      return;
    }
    served++;
    // Fails when the running count of failures due crosses a whole number: exactly `rate` of requests.
    if (Math.floor(served * rate) > Math.floor((served - 1) * rate)) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${stack} failed on purpose\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  };
}

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
        const server = createServer(demoHandler(stack));
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
