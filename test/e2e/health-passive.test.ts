import { describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import type { SwitchyardEvent } from '../../src/events/bus.js';
import { startSwitchyard, waitFor } from '../helpers/switchyard.js';
import { get } from '../helpers/http.js';
import { startUpstream } from '../helpers/upstream.js';

let app: Switchyard | undefined;

describe('passive ejection', () => {
  it('ejects a target answering 5xx between active checks, publishes it, and stops choosing it', async () => {
    // Passes its /health but fails real requests: only passive detection can catch it.
    const bad = await startUpstream('bad', (_req, res) => res.writeHead(500).end('boom'));
    const good = await startUpstream('good');
    app = await startSwitchyard([
      { name: 'web', health_check: { path: '/health', interval: 60_000, response_timeout: 500 }, stacks: { blue: { targets: [bad.address, good.address] } } },
    ]);
    const events: SwitchyardEvent[] = [];
    app.controller.events.subscribe((e) => events.push(e));
    const port = app.port('http');
    // Round robin: every other request meets the bad target until it is ejected.
    for (let i = 0; i < 10; i++) await get(port);
    const ejection = events.find((e) => e.type === 'health' && e.source === 'passive');
    expect(ejection).toMatchObject({ service: 'web', stack: 'blue', target: bad.address, healthy: false });
    const seenBefore = bad.requests.length;
    for (let i = 0; i < 10; i++) expect((await get(port)).body).toBe('good');
    expect(bad.requests.length).toBe(seenBefore);
    const service = (await (await fetch(`${app.adminUrl}/v1/services/web`)).json()) as {
      stacks: { blue: { targets: { address: string; available: boolean; ejected_until: string | null }[] } };
    };
    const target = service.stacks.blue.targets.find((t) => t.address === bad.address);
    expect(target?.available).toBe(false);
    expect(target?.ejected_until).not.toBeNull();
  });

  it('honours upstream.max_fails and fail_timeout: one failure ejects, and the target returns after the cool-down', async () => {
    const bad = await startUpstream('bad', (_req, res) => res.writeHead(500).end('boom'));
    const good = await startUpstream('good');
    app = await startSwitchyard(
      [{ name: 'web', health_check: { path: '/health', interval: 60_000, response_timeout: 500 }, stacks: { blue: { targets: [bad.address, good.address] } } }],
      { upstream: { max_fails: 1, fail_timeout: '300ms' } },
    );
    const port = app.port('http');
    const bodies: string[] = [];
    for (let i = 0; i < 6; i++) bodies.push((await get(port)).body);
    expect(bodies.filter((b) => b === 'boom')).toHaveLength(1);
    const target = app.controller.service('web').stacks.get('blue')!.targets[0]!;
    await waitFor(() => target.isAvailable(Date.now()), 5000, 'the 300 ms cool-down over');
    const after: string[] = [];
    for (let i = 0; i < 2; i++) after.push((await get(port)).body);
    expect(after).toContain('boom');
  });
});
