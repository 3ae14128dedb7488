import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { adminCall, type Json } from '../helpers/admin-call.js';
import { track } from '../helpers/cleanup.js';
import { startSwitchyard } from '../helpers/switchyard.js';
import { recordRolloutEvents, rolloutEvent } from '../helpers/traffic.js';
import { startBlueGreen } from '../helpers/upstream.js';

/** A real gate webhook: answers `status` (or never, with `hang`), keeping every body it was POSTed. */
async function startGate(initial: number | 'hang') {
  const gate = { answer: initial, bodies: [] as Json[], url: '' };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      gate.bodies.push(JSON.parse(text) as Json);
      if (gate.answer === 'hang') return; // never answers: the gate's timeout must end the call
      res.writeHead(gate.answer, { 'content-type': 'text/plain' }).end('gate');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  track({
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  gate.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/gate`;
  return gate;
}

const analysis = { interval: '300ms', count: 1, failure_limit: 3, min_requests: 1 };

describe('rollout gates (SPEC §10)', () => {
  it('holds while pre_rollout answers 500 (a failed measurement each interval), then proceeds on 200', async () => {
    const gate = await startGate(500);
    const { services } = await startBlueGreen({ analysis, gates: { pre_rollout: gate.url } });
    const app = await startSwitchyard(services);
    const failed = rolloutEvent(app, (e) => e.action === 'analysis' && e.analysis?.verdict === 'fail');
    await adminCall(app, 'POST', '/v1/services/web/rollouts', { to: 'green', steps: [{ weight: 30 }, { weight: 100 }] });
    const held = await failed;
    expect(held).toMatchObject({ state: 'running', step: 0, weights: { blue: 100, green: 0 }, reason: 'failure 1/3: gate pre_rollout answered 500' });
    expect(held.analysis).toMatchObject({ gate: 'pre_rollout', status: 500, verdict: 'fail', failures: 1 });
    expect(app.controller.service('web').state.history).toEqual([]);

    const completed = rolloutEvent(app, (e) => e.action === 'completed');
    gate.answer = 200;
    expect(await completed).toMatchObject({ weights: { blue: 0, green: 100 } });
    const rollout = (await adminCall(app, 'GET', '/v1/services/web/rollout')).body;
    expect(rollout.gates_passed).toEqual(['pre_rollout']);
    // It was POSTed the rollout JSON, and asked again each interval until it said yes.
    expect(gate.bodies.length).toBeGreaterThanOrEqual(2);
    expect(gate.bodies[0]).toMatchObject({ gate: 'pre_rollout', service: 'web', from: 'blue', to: 'green', state: 'running', step: 0 });
  });

  it('aborts when pre_promotion keeps refusing: failure_limit failed measurements, traffic back to blue', async () => {
    const gate = await startGate(503);
    const { services } = await startBlueGreen({ analysis: { ...analysis, failure_limit: 2 }, gates: { pre_promotion: gate.url } });
    const app = await startSwitchyard(services);
    const events = recordRolloutEvents(app);
    const aborted = rolloutEvent(app, (e) => e.action === 'aborted');
    await adminCall(app, 'POST', '/v1/services/web/rollouts', { to: 'green', steps: [{ weight: 30 }, { weight: 100 }] });
    const abort = await aborted;
    expect(abort).toMatchObject({ reason: 'aborted: gate pre_promotion answered 503', weights: { blue: 100, green: 0 }, step: 1 });
    expect(events.filter((e) => e.action === 'analysis').map((e) => e.analysis?.verdict)).toEqual(['fail', 'fail']);
    expect(gate.bodies.every((b) => b.gate === 'pre_promotion' && b.weights.green === 30)).toBe(true);
    const reasons = app.controller.service('web').state.history.map((h) => h.reason);
    expect(reasons).toEqual(['rollout step 1/2: weight 30', 'aborted: gate pre_promotion answered 503']);
  });

  it('counts a gate that does not answer within gates.timeout as failed', async () => {
    const gate = await startGate('hang');
    const { services } = await startBlueGreen({ analysis: { ...analysis, failure_limit: 1 }, gates: { pre_rollout: gate.url, timeout: '200ms' } });
    const app = await startSwitchyard(services);
    const aborted = rolloutEvent(app, (e) => e.action === 'aborted');
    await adminCall(app, 'POST', '/v1/services/web/rollouts', { to: 'green' });
    expect((await aborted).reason).toBe('aborted: gate pre_rollout did not answer within 200ms');
    expect(app.controller.service('web').weights).toEqual([100, 0]);
  });

  it('lets promote skip a gate that holds', async () => {
    const gate = await startGate(500);
    const { services } = await startBlueGreen({ analysis: { ...analysis, failure_limit: 100 }, gates: { pre_rollout: gate.url } });
    const app = await startSwitchyard(services);
    const held = rolloutEvent(app, (e) => e.action === 'analysis');
    await adminCall(app, 'POST', '/v1/services/web/rollouts', { to: 'green', steps: [{ weight: 100 }] });
    await held;
    const completed = rolloutEvent(app, (e) => e.action === 'completed');
    const promoted = await adminCall(app, 'POST', '/v1/services/web/rollout/promote', {});
    expect(promoted.status).toBe(200);
    expect((await completed).weights).toEqual({ blue: 0, green: 100 });
  });
});
