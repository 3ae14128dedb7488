import { Agent } from 'node:http';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Switchyard } from '../../src/app.js';
import type { SwitchyardEvent } from '../../src/events/bus.js';
import { startSwitchyard, waitFor } from '../helpers/switchyard.js';
import { track } from '../helpers/cleanup.js';
import { get } from '../helpers/http.js';
import { startUpstream } from '../helpers/upstream.js';

const FAST_CHECK = { path: '/health', interval: 100, response_timeout: 150, healthy_threshold: 2, unhealthy_threshold: 2 };

let app: Switchyard | undefined;

describe('active health checks', () => {
  it('takes a target failing /health out of rotation after the threshold and back after recovery, visible on /v1/events', async () => {
    let sick = false;
    const a = await startUpstream('a', undefined, () => !sick);
    const b = await startUpstream('b');
    app = await startSwitchyard([
      { name: 'web', health_check: FAST_CHECK, stacks: { blue: { targets: [a.address, b.address] }, green: { targets: [b.address] } } },
    ]);
    const events: SwitchyardEvent[] = [];
    const ws = new WebSocket(`${app.adminUrl.replace('http', 'ws')}/v1/events`);
    ws.on('message', (m) => events.push(JSON.parse(m.toString()) as SwitchyardEvent));
    await new Promise((r) => ws.once('open', r));

    sick = true;
    await waitFor(() => events.some((e) => e.type === 'health' && e.target === a.address && !e.healthy));
    for (let i = 0; i < 6; i++) expect((await get(app.port('http'))).body).toBe('b');
    const service = (await (await fetch(`${app.adminUrl}/v1/services/web`)).json()) as {
      stacks: { blue: { targets: { address: string; healthy: boolean; last_error: string | null }[] } };
    };
    const target = service.stacks.blue.targets.find((t) => t.address === a.address);
    expect(target?.healthy).toBe(false);
    expect(target?.last_error).toBe('status 503');

    sick = false;
    await waitFor(() => events.some((e) => e.type === 'health' && e.target === a.address && e.healthy));
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await get(app.port('http'))).body);
    expect(seen).toEqual(new Set(['a', 'b']));
    ws.close();
  });

  it('marks a target that accepts but never answers as down by timeout', async () => {
    const silent = track(createServer(() => undefined));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const address = `127.0.0.1:${(silent.address() as { port: number }).port}`;
    const ok = await startUpstream('ok');
    app = await startSwitchyard([{ name: 'web', health_check: FAST_CHECK, stacks: { blue: { targets: [address, ok.address] } } }]);
    const target = app.controller.service('web').stacks.get('blue')!.targets[0]!;
    await waitFor(() => target.lastError?.startsWith('timeout') === true);
    expect(target.healthy).toBe(false);
    for (let i = 0; i < 4; i++) expect((await get(app.port('http'))).body).toBe('ok');
  });

  it('accepts the rancher-compose health_check block as it is', async () => {
    const up = await startUpstream('up');
    const rancher = {
      port: up.port,
      interval: 2000,
      unhealthy_threshold: 3,
      request_line: 'GET /health HTTP/1.0',
      healthy_threshold: 2,
      response_timeout: 2000,
    };
    app = await startSwitchyard([{ name: 'web', health_check: rancher, stacks: { blue: { targets: [up.address] } } }]);
    // The first round runs before the listeners open, so the first request is served.
    expect((await get(app.port('http'))).body).toBe('up');
  });

  it('answers 503 naming the service when the whole stack is down, and refuses to switch to it unless forced', async () => {
    const up = await startUpstream('blue');
    const down = await startUpstream('green', undefined, () => false);
    app = await startSwitchyard([{ name: 'web', health_check: FAST_CHECK, stacks: { blue: { targets: [up.address] }, green: { targets: [down.address] } } }]);
    const refused = await fetch(`${app.adminUrl}/v1/services/web/switch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ to: 'green' }),
    });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('STACK_UNHEALTHY');
    const forced = await fetch(`${app.adminUrl}/v1/services/web/switch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ to: 'green', force: true }),
    });
    expect(forced.status).toBe(200);
    const reply = await get(app.port('http'));
    expect(reply.status).toBe(503);
    const error = (JSON.parse(reply.body) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('NO_HEALTHY_TARGET');
    expect(error.message).toContain('service "web"');
  });

  it('serves another stack with failover: true when the chosen one has no healthy target', async () => {
    const up = await startUpstream('green');
    const down = await startUpstream('blue', undefined, () => false);
    app = await startSwitchyard([
      { name: 'web', failover: true, health_check: FAST_CHECK, stacks: { blue: { targets: [down.address] }, green: { targets: [up.address] } } },
    ]);
    expect((await get(app.port('http'))).body).toBe('green');
  });

  it('starts a target added at run time unhealthy and admits it once it passes', async () => {
    const first = await startUpstream('first');
    const added = await startUpstream('added');
    app = await startSwitchyard([{ name: 'web', health_check: FAST_CHECK, stacks: { blue: { targets: [first.address] } } }]);
    await app.controller.setTargets('web', 'blue', [first.address, added.address]);
    const target = app.controller.service('web').stacks.get('blue')!.targets[1]!;
    await waitFor(() => target.healthy);
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add((await get(app.port('http'))).body);
    expect(seen).toEqual(new Set(['first', 'added']));
  });
});

describe('webhooks', () => {
  it('POSTs health transitions and switches to the configured hooks', async () => {
    const received: { url: string; body: { type: string; healthy?: boolean } }[] = [];
    const hook = await startUpstream('', (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ url: req.url ?? '', body: JSON.parse(body) as { type: string; healthy?: boolean } });
        res.end('ok');
      });
    });
    let sick = false;
    const up = await startUpstream('up', undefined, () => !sick);
    const other = await startUpstream('other');
    const base = `http://${hook.address}`;
    app = await startSwitchyard([{ name: 'web', health_check: FAST_CHECK, stacks: { blue: { targets: [up.address] }, green: { targets: [other.address] } } }], {
      hooks: { on_health_change: `${base}/health-hook`, on_switch: [`${base}/switch-hook`] },
    });
    await app.controller.switchTo('web', 'green');
    sick = true;
    await waitFor(() => received.some((r) => r.url === '/health-hook' && r.body.healthy === false));
    await waitFor(() => received.some((r) => r.url === '/switch-hook' && r.body.type === 'switch'));
  });
});

describe('target failure under load', () => {
  it('loses no client request when a target dies while a sibling is healthy', async () => {
    const a = await startUpstream('a');
    const b = await startUpstream('b');
    app = await startSwitchyard([{ name: 'web', health_check: FAST_CHECK, stacks: { blue: { targets: [a.address, b.address] } } }]);
    const port = app.port('http');
    const agent = new Agent({ keepAlive: true, maxSockets: 20 });
    let failures = 0;
    let served = 0;
    let killed = false;
    const client = async () => {
      for (let i = 0; i < 60; i++) {
        if (served === 200 && !killed) {
          killed = true;
          void a.close();
        }
        const reply = await get(port, { agent }).catch(() => ({ status: 0, body: '' }));
        if (reply.status !== 200) failures++;
        served++;
      }
    };
    await Promise.all(Array.from({ length: 20 }, client));
    agent.destroy();
    expect(killed).toBe(true);
    expect(failures).toBe(0);
  });
});
