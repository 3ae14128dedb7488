import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { failureResponse } from '../../src/proxy/upstream-errors.js';
import { startSwitchyard } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let app: Switchyard | undefined;
const upstreams: Upstream[] = [];
afterEach(async () => {
  await app?.stop(0);
  app = undefined;
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { host: 'web' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('a request waiting for a free upstream connection (upstream.max_sockets reached)', () => {
  it('maps the expired wait to 503 UPSTREAM_BUSY', () => {
    expect(failureResponse('queue')).toEqual({ code: 'UPSTREAM_BUSY', status: 503 });
  });

  it('waits at most the response timeout, then gets 503 UPSTREAM_BUSY; the busy exchange is unharmed', async () => {
    let trickling: (() => void) | undefined;
    const up = await startUpstream('ok', (req, res) => {
      if (req.url !== '/trickle') return void res.end('ok');
      // Never silent for the response timeout, but holds the only connection for 2 s.
      res.writeHead(200, { 'content-type': 'text/plain' });
      let n = 0;
      const timer = setInterval(() => {
        res.write('.');
        if (++n === 20) {
          clearInterval(timer);
          res.end();
        }
      }, 100);
      trickling?.();
    });
    upstreams.push(up);
    app = await startSwitchyard([{ name: 'web', response_timeout: 600, stacks: { blue: { targets: [up.address] } } }], { upstream: { max_sockets: 1 } });
    const port = app.port('http');
    const started = new Promise<void>((r) => (trickling = r));
    const busy = get(port, '/trickle');
    await started;
    const waited = await get(port, '/other');
    expect(waited.status).toBe(503);
    expect(waited.body).toContain('UPSTREAM_BUSY');
    const first = await busy;
    expect(first.status).toBe(200);
    expect(first.body).toBe('.'.repeat(20));
    // The target was not blamed: it still answers.
    expect((await get(port, '/other')).status).toBe(200);
  });
});
