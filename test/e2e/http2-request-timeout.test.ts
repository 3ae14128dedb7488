import { describe, expect, it } from 'vitest';
import { h2Session } from '../helpers/h2.js';
import { startSwitchyard } from '../helpers/switchyard.js';
import { startUpstream } from '../helpers/upstream.js';

describe('HTTP/2 request_timeout', () => {
  it('answers 408 to a stream whose body stalls past limits.request_timeout, forwarding nothing, while other streams are served', async () => {
    let reached = 0;
    const upstream = await startUpstream('blue', (_req, res) => {
      reached++;
      res.end('blue');
    });
    const app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [upstream.address] } } }], {
      listeners: [{ name: 'https', port: 0, address: '127.0.0.1', tls: true, default_cert: 'localhost' }],
      limits: { request_timeout: '300ms', header_timeout: '300ms' },
    });
    const session = await h2Session(app.port('https'));
    const stalled = session.request({ ':method': 'POST', ':path': '/', 'content-length': '10' }, { endStream: false });
    stalled.write('abc');
    const started = Date.now();
    const status = await new Promise<number>((resolve) => {
      stalled.on('response', (h) => resolve(Number(h[':status'])));
      stalled.on('error', () => undefined);
      stalled.on('close', () => resolve(0));
    });
    expect(status).toBe(408);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    // Another stream on the same connection is served as usual.
    const ok = session.request({ ':path': '/' });
    const body = await new Promise<string>((resolve) => {
      let text = '';
      ok.on('data', (c: Buffer) => {
        text += c.toString();
      });
      ok.on('end', () => resolve(text));
    });
    expect(body).toBe('blue');
    expect(reached).toBe(1);
  });
});
