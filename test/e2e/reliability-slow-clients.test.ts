import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { RawClient } from '../helpers/raw-http.js';
import { startSwitchyard, waitFor } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let app: Switchyard | undefined;
const upstreams: Upstream[] = [];
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await app?.stop(0);
  app = undefined;
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

function get(port: number, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('clients that trickle request bodies (slowhttptest -B)', () => {
  it('hold no upstream connection while their bodies are read ahead, so a normal GET gets 200 with max_sockets taken by none', async () => {
    let connections = 0;
    const up = await startUpstream('ok', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(`${req.method} ${Buffer.concat(chunks).length} cl=${req.headers['content-length'] ?? '-'}`));
    });
    up.server.on('connection', () => connections++);
    upstreams.push(up);
    app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [up.address] } } }], { upstream: { max_sockets: 4 } });
    const port = app.port('http');
    // Six tricklers, more than max_sockets: bodies larger than the old 64 KiB read-ahead
    // (Content-Length) and chunked ones, each sends a few bytes and stalls. Expect:
    // 100-continue makes the proxy answer once it has taken the request in.
    const heads = [
      ...Array.from({ length: 3 }, () => 'POST /upload HTTP/1.1\r\nHost: web\r\nExpect: 100-continue\r\nContent-Length: 200000\r\n\r\nabcdefghij'),
      ...Array.from({ length: 3 }, () => 'POST /upload HTTP/1.1\r\nHost: web\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'),
    ];
    const tricklers = heads.map((head) => {
      const c = new RawClient(port);
      c.write(head);
      return c;
    });
    clients.push(...tricklers);
    await waitFor(() => tricklers.every((c) => c.text.startsWith('HTTP/1.1 100 Continue')));
    expect(await get(port)).toEqual({ status: 200, body: 'GET 0 cl=-' });
    expect(connections).toBe(1);
    // A trickler that finishes is forwarded whole, with a Content-Length.
    const last = tricklers[5] as RawClient;
    last.write('0\r\n\r\n');
    await waitFor(() => last.text.includes('POST 5 cl=5'));
  });
});
