import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Switchyard } from '../../src/app.js';
import type { SwitchyardEvent } from '../../src/events/bus.js';
import { tempDir, testConfig, waitFor } from '../helpers/switchyard.js';
import { track } from '../helpers/cleanup.js';
import { get } from '../helpers/http.js';
import { startUpstream } from '../helpers/upstream.js';

const FAST_CHECK = { path: '/health', interval: 100, response_timeout: 150, healthy_threshold: 2, unhealthy_threshold: 2 };

describe('health checks across a config reload', () => {
  it('starts checking when a reload adds a health_check, and restores health when a reload removes it', async () => {
    const dir = tempDir();
    const sick = await startUpstream('sick', undefined, () => false);
    const configWith = (check: Record<string, unknown> | undefined) =>
      testConfig([{ name: 'web', ...(check ? { health_check: check } : {}), stacks: { blue: { targets: [sick.address] } } }], {}, dir);
    const app = track(await Switchyard.start(configWith(undefined), pino({ level: 'silent' })));
    const port = app.port('http');
    // No check: the target answers (its /health fails, but nothing probes it).
    expect((await get(port)).status).toBe(200);
    const events: SwitchyardEvent[] = [];
    app.controller.events.subscribe((e) => events.push(e));

    await app.reload(configWith(FAST_CHECK));
    await waitFor(() => events.some((e) => e.type === 'health' && !e.healthy));
    expect((await get(port)).status).toBe(503);

    await app.reload(configWith(undefined));
    await waitFor(() => events.some((e) => e.type === 'health' && e.healthy));
    expect((await get(port)).status).toBe(200);
  });
});
