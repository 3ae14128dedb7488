import { request } from 'node:http';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Switchyard } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import type { SwitchyardEvent } from '../../src/events/bus.js';
import { tempDir, waitFor } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const FAST_CHECK = { path: '/health', interval: 100, response_timeout: 150, healthy_threshold: 2, unhealthy_threshold: 2 };

let app: Switchyard | undefined;
const upstreams: Upstream[] = [];
afterEach(async () => {
  await app?.stop(0);
  app = undefined;
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

function get(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('health checks across a config reload', () => {
  it('starts checking when a reload adds a health_check, and restores health when a reload removes it', async () => {
    const dir = tempDir();
    const sick = await startUpstream('sick', undefined, () => false);
    upstreams.push(sick);
    const configWith = (check: Record<string, unknown> | undefined) =>
      validateConfig({
        listeners: [{ name: 'http', port: 0, address: '127.0.0.1' }],
        admin: { listen: '127.0.0.1:0' },
        state: { path: join(dir, 'state.json') },
        certs_dir: join(dir, 'certs'),
        logging: { level: 'silent' },
        services: [{ name: 'web', ...(check ? { health_check: check } : {}), stacks: { blue: { targets: [sick.address] } } }],
      });
    app = await Switchyard.start(configWith(undefined), pino({ level: 'silent' }));
    const port = app.port('http');
    // No check: the target answers (its /health fails, but nothing probes it).
    expect(await get(port)).toBe(200);
    const events: SwitchyardEvent[] = [];
    app.controller.events.subscribe((e) => events.push(e));

    await app.reload(configWith(FAST_CHECK));
    await waitFor(() => events.some((e) => e.type === 'health' && !e.healthy));
    expect(await get(port)).toBe(503);

    await app.reload(configWith(undefined));
    await waitFor(() => events.some((e) => e.type === 'health' && e.healthy));
    expect(await get(port)).toBe(200);
  });
});
