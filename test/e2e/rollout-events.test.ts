import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { adminCall, type Json } from '../helpers/admin-call.js';
import { defer } from '../helpers/cleanup.js';
import { startSwitchyard, waitFor } from '../helpers/switchyard.js';
import { rolloutEvent } from '../helpers/traffic.js';
import { startBlueGreen } from '../helpers/upstream.js';

/** A real `on_switch` receiver keeping every body. */
async function hookReceiver(bodies: Json[]): Promise<string> {
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      bodies.push(JSON.parse(text) as Json);
      res.end();
    });
  });
  defer(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
}

describe('rollout events and hooks', () => {
  it('sends each step and the abort to on_switch, and rollout events to /v1/events', async () => {
    const hooked: Json[] = [];
    const { services } = await startBlueGreen();
    const app = await startSwitchyard(services, { hooks: { on_switch: await hookReceiver(hooked) } });
    const streamed: Json[] = [];
    const ws = new WebSocket(`${app.adminUrl.replace('http', 'ws')}/v1/events`);
    defer(() => ws.terminate());
    ws.on('message', (data) => streamed.push(JSON.parse(String(data)) as Json));
    await new Promise((resolve) => ws.once('open', resolve));

    const paused = rolloutEvent(app, (e) => e.action === 'paused');
    await adminCall(app, 'POST', '/v1/services/web/rollouts', { to: 'green', steps: [{ weight: 10 }, { weight: 30 }, { pause: {} }] });
    await paused;
    await adminCall(app, 'POST', '/v1/services/web/rollout/abort', {});

    await waitFor(() => hooked.length === 3);
    expect(hooked.map((h) => [h.type, h.reason, h.to])).toEqual([
      ['weights', 'rollout step 1/4: weight 10', { blue: 90, green: 10 }],
      ['weights', 'rollout step 2/4: weight 30', { blue: 70, green: 30 }],
      ['weights', 'aborted: by admin', { blue: 100, green: 0 }],
    ]);
    await waitFor(() => streamed.some((e) => e.type === 'rollout' && e.action === 'aborted'));
    const actions = streamed.filter((e) => e.type === 'rollout').map((e) => e.action);
    expect(actions).toEqual(['started', 'step', 'step', 'paused', 'aborted']);
    expect(streamed.find((e) => e.action === 'aborted')).toMatchObject({
      service: 'web',
      from: 'blue',
      to: 'green',
      state: 'aborted',
      reason: 'aborted: by admin',
    });
  });
});
