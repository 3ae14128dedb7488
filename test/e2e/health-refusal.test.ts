import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Switchyard } from '../../src/app.js';
import type { SwitchyardEvent } from '../../src/events/bus.js';
import { startSwitchyard, waitFor } from '../helpers/switchyard.js';
import { runCli as cli } from '../helpers/child-switchyard.js';
import { get } from '../helpers/http.js';
import { startBlueGreen, startUpstream } from '../helpers/upstream.js';

// Run `npm run build` first: the CLI under test is dist/.
const FAST_CHECK = { path: '/health', interval: 100, response_timeout: 150, healthy_threshold: 2, unhealthy_threshold: 2 };

let app: Switchyard | undefined;

async function twoStacks(greenHealthy: () => boolean, extra: Record<string, unknown> = {}): Promise<Switchyard> {
  const { services } = await startBlueGreen({ health_check: FAST_CHECK, ...extra }, { green: greenHealthy });
  return startSwitchyard(services);
}

describe('switch refusal from the CLI', () => {
  it('exits 1 with STACK_UNHEALTHY when switching to an unhealthy stack, and --force switches', async () => {
    app = await twoStacks(() => false);
    const refused = await cli(['--admin', app.adminUrl, 'switch', 'web', 'green']);
    expect(refused.code).toBe(1);
    expect(refused.stderr + refused.stdout).toMatch(/STACK_UNHEALTHY|no healthy target/);
    expect((await get(app.port('http'))).body).toBe('blue');

    const weights = await cli(['--admin', app.adminUrl, 'weights', 'web', 'blue=50', 'green=50']);
    expect(weights.code).toBe(1);

    const forced = await cli(['--admin', app.adminUrl, 'switch', 'web', 'green', '--force']);
    expect(forced.code).toBe(0);
    // Forced onto a stack with no healthy target: 503 naming the service, not a hang or 502.
    const response = await get(app.port('http'));
    expect(response.status).toBe(503);
    expect(response.body).toContain('web');
  });

  it('refuses PUT /weights giving weight to an unhealthy stack with 409 unless forced', async () => {
    app = await twoStacks(() => false);
    const put = (body: unknown) =>
      fetch(`${app?.adminUrl ?? ''}/v1/services/web/weights`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const refused = await put({ weights: { blue: 90, green: 10 } });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('STACK_UNHEALTHY');
    expect((await put({ weights: { blue: 100, green: 0 } })).status).toBe(200);
    expect((await put({ weights: { blue: 90, green: 10 }, force: true })).status).toBe(200);
  });

  it('switches without force once the stack is healthy', async () => {
    app = await twoStacks(() => true);
    const result = await cli(['--admin', app.adminUrl, 'switch', 'web', 'green']);
    expect(result.code).toBe(0);
    expect((await get(app.port('http'))).body).toBe('green');
  });
});

describe('failover and passive events', () => {
  it('publishes a rate-limited failover event when serving from the other stack', async () => {
    const events: SwitchyardEvent[] = [];
    let blueUp = true;
    const blue = await startUpstream('blue', undefined, () => blueUp);
    const green = await startUpstream('green');
    app = await startSwitchyard([
      { name: 'web', failover: true, health_check: FAST_CHECK, stacks: { blue: { targets: [blue.address] }, green: { targets: [green.address] } } },
    ]);
    const ws = new WebSocket(`${app.adminUrl.replace('http', 'ws')}/v1/events`);
    ws.on('message', (m) => events.push(JSON.parse(m.toString()) as SwitchyardEvent));
    await new Promise((r) => ws.once('open', r));
    expect((await get(app.port('http'))).body).toBe('blue');
    blueUp = false;
    await waitFor(() => events.some((e) => e.type === 'health' && !e.healthy));
    for (let i = 0; i < 5; i++) expect((await get(app.port('http'))).body).toBe('green');
    await waitFor(() => events.some((e) => e.type === 'failover'));
    expect(events.filter((e) => e.type === 'failover')).toHaveLength(1);
    expect(events.find((e) => e.type === 'failover')).toMatchObject({ service: 'web', from: 'blue', to: 'green' });
    ws.close();
  });

  it('refuses the event stream to a foreign Host and without the token', async () => {
    app = await twoStacks(() => true);
    const url = `${app.adminUrl.replace('http', 'ws')}/v1/events`;
    const status = (options: WebSocket.ClientOptions) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(url, options);
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('error', () => resolve(-1));
      });
    expect(await status({ headers: { host: 'evil.example' } })).toBe(403);
    expect(await status({ origin: 'http://evil.example' })).toBe(403);
    expect(await status({})).toBe(101);
  });

  it('requires the bearer token on the event stream when one is configured', async () => {
    process.env.SWITCHYARD_HEALTH_TOKEN = 'sekrit-token';
    const up = await startUpstream('blue');
    app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [up.address] } } }], {
      admin: { listen: '127.0.0.1:0', token_env: 'SWITCHYARD_HEALTH_TOKEN' },
    });
    const url = `${app.adminUrl.replace('http', 'ws')}/v1/events`;
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(url, { headers });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('error', () => resolve(-1));
      });
    expect(await status({})).toBe(401);
    expect(await status({ authorization: 'Bearer wrong' })).toBe(401);
    expect(await status({ authorization: 'Bearer sekrit-token' })).toBe(101);
  });
});
