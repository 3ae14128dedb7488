import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { DEMO_FAIL_PATH, demoHandler } from '../../src/demo/backends.js';
import { track } from '../helpers/cleanup.js';
import { get } from '../helpers/http.js';

describe('demo backend failure switch', () => {
  it('fails exactly the given share of requests after POST /_demo/fail?rate=…, /health aside', async () => {
    const server = createServer(demoHandler('green'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    track({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    const port = (server.address() as AddressInfo).port;
    expect((await get(port)).body).toBe('hello from green\n');
    expect((await get(port, { method: 'POST', path: `${DEMO_FAIL_PATH}?rate=0.1` })).body).toBe('green fails 10% of requests\n');
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await get(port, { path: `/${i}` })).status);
    expect(statuses.filter((s) => s === 500)).toHaveLength(3);
    expect((await get(port, { path: '/health' })).status).toBe(200);
    await get(port, { method: 'POST', path: `${DEMO_FAIL_PATH}?rate=0` });
    expect((await get(port)).status).toBe(200);
  });
});
