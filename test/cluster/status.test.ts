import { describe, expect, it } from 'vitest';
import { startSwitchyard } from '../helpers/switchyard.js';
import { startUpstream } from '../helpers/upstream.js';

describe('GET /v1/workers', () => {
  it('shows the one process when switchyard serves from it (workers: 0, or embedded)', async () => {
    const web = await startUpstream('web');
    const app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [web.address] } } }]);
    await fetch(`http://127.0.0.1:${app.port('http')}/`).then((r) => r.text());
    const view = (await (await fetch(`${app.adminUrl}/v1/workers`)).json()) as Record<string, unknown>;
    expect(view).toEqual({
      mode: 'single',
      workers: [
        {
          id: 0,
          pid: process.pid,
          state: 'ready',
          generation: app.controller.snapshot.generation,
          requests: 1,
          uptime_seconds: expect.any(Number),
          restarts: 0,
        },
      ],
    });
  });
});
