import { describe, expect, it } from 'vitest';
import { RawClient } from '../helpers/raw-http.js';
import { startSwitchyard, waitFor } from '../helpers/switchyard.js';
import { startUpstream } from '../helpers/upstream.js';

async function start(limits: Record<string, unknown>): Promise<number> {
  const up = await startUpstream('ok');
  const app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [up.address] } } }], { limits });
  return app.port('http');
}

/** One GET on `c`: the status line, or 'closed' when the proxy hangs up first. */
async function get(c: RawClient): Promise<string> {
  c.text = '';
  c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
  await waitFor(() => c.closed || c.text.endsWith('0\r\n\r\n'), 3000);
  return c.closed && c.text === '' ? 'closed' : (c.text.split('\r\n')[0] ?? '');
}

describe('client connection limits', () => {
  it('refuses connections beyond max_connections while the others keep working, and admits one again after a close', async () => {
    const port = await start({ max_connections: 5 });
    const five = Array.from({ length: 5 }, () => new RawClient(port));
    for (const c of five) expect(await get(c)).toBe('HTTP/1.1 200 OK');
    expect(await get(new RawClient(port))).toBe('closed');
    for (const c of five) expect(await get(c)).toBe('HTTP/1.1 200 OK');
    five[0]?.destroy();
    // The proxy counts the slot free once it has seen the close: until then a new client is still refused.
    await waitFor(async () => (await get(new RawClient(port))) === 'HTTP/1.1 200 OK', 5000, 'a connection admitted again');
  });

  it('closes an idle keep-alive client connection after keepalive_timeout', async () => {
    const port = await start({ keepalive_timeout: 300 });
    const idle = new RawClient(port);
    expect(await get(idle)).toBe('HTTP/1.1 200 OK');
    const started = Date.now();
    await waitFor(() => idle.closed, 4000);
    // Not before the 300 ms timeout, and not at the 5 s default (the waitFor deadline); loose above for a loaded box.
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });
});
