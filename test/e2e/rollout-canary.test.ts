import { describe, expect, it } from 'vitest';
import { adminCall } from '../helpers/admin-call.js';
import { startSwitchyard, waitFor } from '../helpers/switchyard.js';
import { recordRolloutEvents, rolloutEvent, startTraffic } from '../helpers/traffic.js';
import { startBlueGreen, startUpstream } from '../helpers/upstream.js';

/** Short analysis for tests: 300 ms intervals. */
const analysis = { interval: '300ms', count: 2, failure_limit: 2, min_requests: 5, max_error_rate: 0.01 };

const call = adminCall;

/** A green that answers 500 to exactly every tenth request (10 %, evenly spread: never three in a row, so passive ejection stays out of it). */
async function failingGreen() {
  let n = 0;
  return startUpstream('green', (_req, res) => {
    n++;
    if (n % 10 === 0) res.writeHead(500).end('green failed');
    else res.writeHead(200).end('green');
  });
}

describe('rollouts (SPEC §10)', () => {
  it('takes a healthy green to 100 through its steps, one history entry per weight step', async () => {
    const { services } = await startBlueGreen({ analysis });
    const app = await startSwitchyard(services);
    const traffic = startTraffic(app.port('http'));
    const steps = [{ weight: 20 }, { analysis: 'default' }, { weight: 60 }, { analysis: 'default' }, { weight: 100 }];
    const done = rolloutEvent(app, (e) => e.action === 'completed' || e.action === 'aborted');
    const started = await call(app, 'POST', '/v1/services/web/rollouts', { to: 'green', steps });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ service: 'web', from: 'blue', to: 'green', state: 'running', step: 0, steps });
    expect((await done).action).toBe('completed');
    await traffic.stop();

    const rollout = await call(app, 'GET', '/v1/services/web/rollout');
    expect(rollout.body).toMatchObject({ state: 'completed', step: 4, weights: { blue: 0, green: 100 }, reason: 'completed' });
    expect(rollout.body.analysis).toMatchObject({ provider: 'builtin', verdict: 'pass', passes: 2, count: 2, error_rate: 0 });
    const history = (await call(app, 'GET', '/v1/services/web/history')).body.history as { reason: string; to: object; actor: string }[];
    expect(history.map((h) => [h.reason, h.to])).toEqual([
      ['rollout step 1/5: weight 20', { blue: 80, green: 20 }],
      ['rollout step 3/5: weight 60', { blue: 40, green: 60 }],
      ['rollout step 5/5: weight 100', { blue: 0, green: 100 }],
    ]);
    expect(history.every((h) => h.actor === 'rollout')).toBe(true);
    expect(app.controller.service('web').active.name).toBe('green');
  });

  it('aborts a green that fails 10 % of requests within interval × failure_limit, all traffic back to blue, the rate in history', async () => {
    const blue = await startUpstream('blue');
    const green = await failingGreen();
    const app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [blue.address] }, green: { targets: [green.address] } }, analysis }]);
    const events = recordRolloutEvents(app);
    const traffic = startTraffic(app.port('http'));
    const analysing = rolloutEvent(app, (e) => e.action === 'step' && e.step === 1);
    const aborted = rolloutEvent(app, (e) => e.action === 'aborted');
    await call(app, 'POST', '/v1/services/web/rollouts', { to: 'green', steps: [{ weight: 50 }, { analysis: 'default' }, { weight: 100 }] });
    await analysing;
    const analysisStarted = performance.now();
    const abort = await aborted;
    const tookMs = performance.now() - analysisStarted;
    const seenBefore = green.requests.length;
    await new Promise<void>((resolve) => setImmediate(resolve));
    const afterAbort = traffic.total();
    while (traffic.total() < afterAbort + 50) await new Promise((r) => setTimeout(r, 10));
    await traffic.stop();

    // Exactly failure_limit failed measurements, nothing passed: the abort came at the second interval.
    const measurements = events.filter((e) => e.action === 'analysis');
    expect(measurements.map((e) => e.analysis?.verdict)).toEqual(['fail', 'fail']);
    console.info(`abort after ${Math.round(tookMs)} ms of analysis (interval 300 ms × failure_limit 2)`);
    expect(tookMs).toBeLessThan(300 * 3 + 2000);
    expect(abort).toMatchObject({ state: 'aborted', weights: { blue: 100, green: 0 } });
    expect(abort.reason).toMatch(/^aborted: error rate 0\.\d+ > 0\.01 over 300ms \(\d+ requests\)$/);
    const rate = Number(/error rate (\S+)/.exec(abort.reason ?? '')?.[1]);
    expect(rate).toBeGreaterThan(0.05);
    expect(rate).toBeLessThan(0.15);

    const history = (await call(app, 'GET', '/v1/services/web/history')).body.history as { reason: string; to: object }[];
    expect(history.at(-1)).toMatchObject({ reason: abort.reason, to: { blue: 100, green: 0 } });
    expect(history).toHaveLength(2);
    // Nothing reaches green once the abort is acknowledged (at most the requests already on their way).
    expect(green.requests.length - seenBefore).toBeLessThanOrEqual(4);
  });

  it('holds on an inconclusive interval (no traffic): no pass, no abort, weights kept', async () => {
    const { services } = await startBlueGreen({ analysis: { ...analysis, failure_limit: 1 } });
    const app = await startSwitchyard(services);
    const events = recordRolloutEvents(app);
    await call(app, 'POST', '/v1/services/web/rollouts', { to: 'green', steps: [{ weight: 10 }, { analysis: 'default' }, { weight: 100 }] });
    await rolloutEvent(app, (e) => e.action === 'analysis');
    await rolloutEvent(app, (e) => e.action === 'analysis');
    const rollout = (await call(app, 'GET', '/v1/services/web/rollout')).body;
    expect(rollout).toMatchObject({ state: 'running', step: 1, weights: { blue: 90, green: 10 }, passes: 0, failures: 0 });
    expect(rollout.analysis).toMatchObject({ verdict: 'inconclusive', requests: 0 });
    expect(rollout.reason).toBe('holding: 0 requests over 300ms, fewer than min_requests 5');
    expect(events.filter((e) => e.action === 'analysis').every((e) => e.analysis?.verdict === 'inconclusive')).toBe(true);
    await call(app, 'POST', '/v1/services/web/rollout/abort', {});
  });

  it('waits at pause {} until promote, and carries a timed pause across an operator pause/resume', async () => {
    const { services } = await startBlueGreen();
    const app = await startSwitchyard(services);
    const paused = rolloutEvent(app, (e) => e.action === 'paused');
    await call(app, 'POST', '/v1/services/web/rollouts', {
      to: 'green',
      steps: [{ weight: 10 }, { pause: {} }, { weight: 30 }, { pause: '1h' }, { weight: 100 }],
    });
    const held = await paused;
    expect(held).toMatchObject({ state: 'paused', step: 1, weights: { blue: 90, green: 10 }, reason: 'waiting for promote' });
    expect((await call(app, 'GET', '/v1/services/web/rollout')).body).toMatchObject({ state: 'paused', held_by: 'step', pause: null });

    // promote: on to weight 30, then the 1h pause runs.
    const timed = rolloutEvent(app, (e) => e.action === 'step' && e.step === 3);
    const promoted = await call(app, 'POST', '/v1/services/web/rollout/promote', {});
    expect(promoted.status).toBe(200);
    await timed;
    // The pause's end is stored right after the step event.
    await waitFor(() => app.controller.service('web').state.rollout?.pause_until != null);
    const rollout = (await call(app, 'GET', '/v1/services/web/rollout')).body;
    expect(rollout).toMatchObject({ state: 'running', step: 3, weights: { blue: 70, green: 30 } });
    expect(rollout.pause.remaining_ms).toBeGreaterThan(3_500_000);

    // pause keeps what is left; resume starts the rest of it.
    const held2 = (await call(app, 'POST', '/v1/services/web/rollout/pause', {})).body;
    expect(held2).toMatchObject({ state: 'paused', held_by: 'operator', reason: 'paused by admin', pause: { until: null } });
    expect(held2.pause.remaining_ms).toBeGreaterThan(3_500_000);
    const resumed = (await call(app, 'POST', '/v1/services/web/rollout/resume', {})).body;
    expect(resumed).toMatchObject({ state: 'running', held_by: null });
    expect(resumed.pause.remaining_ms).toBeLessThanOrEqual(held2.pause.remaining_ms);
    expect(resumed.pause.remaining_ms).toBeGreaterThan(3_500_000);

    // promote skips the rest of the pause: weight 100, completed.
    const completed = rolloutEvent(app, (e) => e.action === 'completed');
    await call(app, 'POST', '/v1/services/web/rollout/promote', {});
    expect(await completed).toMatchObject({ state: 'completed', weights: { blue: 0, green: 100 } });
    const reasons = ((await call(app, 'GET', '/v1/services/web/history')).body.history as { reason: string }[]).map((h) => h.reason);
    expect(reasons).toEqual(['rollout step 1/5: weight 10', 'rollout step 3/5: weight 30', 'rollout step 5/5: weight 100']);
    expect((await call(app, 'POST', '/v1/services/web/rollout/promote', {})).body.error.code).toBe('ROLLOUT_NOT_ACTIVE');
  });

  it('promotes in full: 100 % at once, completed', async () => {
    const { services } = await startBlueGreen();
    const app = await startSwitchyard(services);
    await call(app, 'POST', '/v1/services/web/rollouts', { to: 'green', steps: [{ weight: 10 }, { pause: {} }, { weight: 50 }, { pause: {} }] });
    await rolloutEvent(app, (e) => e.action === 'paused');
    const full = await call(app, 'POST', '/v1/services/web/rollout/promote', { full: true });
    expect(full.body).toMatchObject({ state: 'completed', weights: { blue: 0, green: 100 }, reason: 'promoted in full' });
    const history = (await call(app, 'GET', '/v1/services/web/history')).body.history as { reason: string }[];
    expect(history.at(-1)?.reason).toBe('rollout promoted in full: weight 100');
  });

  it('aborts on request: weights back at once, reason recorded', async () => {
    const { services } = await startBlueGreen();
    const app = await startSwitchyard(services);
    await call(app, 'POST', '/v1/services/web/rollouts', { to: 'green', steps: [{ weight: 25 }, { pause: {} }] });
    await rolloutEvent(app, (e) => e.action === 'paused');
    const aborted = await call(app, 'POST', '/v1/services/web/rollout/abort', { reason: 'saw errors in the logs' });
    expect(aborted.body).toMatchObject({ state: 'aborted', weights: { blue: 100, green: 0 }, reason: 'aborted: saw errors in the logs' });
    const history = (await call(app, 'GET', '/v1/services/web/history')).body.history as { reason: string }[];
    expect(history.map((h) => h.reason)).toEqual(['rollout step 1/3: weight 25', 'aborted: saw errors in the logs']);
  });

  it('refuses a manual switch or weights change during a rollout with 409 ROLLOUT_IN_PROGRESS; force aborts the rollout', async () => {
    const { services } = await startBlueGreen();
    const app = await startSwitchyard(services);
    await call(app, 'POST', '/v1/services/web/rollouts', { to: 'green', steps: [{ weight: 10 }, { pause: {} }] });
    await rolloutEvent(app, (e) => e.action === 'paused');
    const generation = app.controller.service('web').state.generation;
    for (const [method, path, body] of [
      ['POST', '/v1/services/web/switch', { to: 'blue' }],
      ['PUT', '/v1/services/web/weights', { weights: { blue: 50, green: 50 } }],
      ['POST', '/v1/services/web/rollback', {}],
      ['POST', '/v1/services/web/rollouts', { to: 'green' }],
    ] as const) {
      const refused = await call(app, method, path, body);
      expect(refused.status, path).toBe(409);
      expect(refused.body.error.code, path).toBe('ROLLOUT_IN_PROGRESS');
    }
    expect(app.controller.service('web').state.generation).toBe(generation);
    expect(app.controller.service('web').state.rollout?.state).toBe('paused');

    const aborted = rolloutEvent(app, (e) => e.action === 'aborted');
    const forced = await call(app, 'POST', '/v1/services/web/switch', { to: 'blue', force: true });
    expect(forced.status).toBe(200);
    expect(forced.body.weights).toEqual({ blue: 100, green: 0 });
    expect((await aborted).reason).toBe('aborted: switch with force');
    expect((await call(app, 'GET', '/v1/services/web/rollout')).body).toMatchObject({ state: 'aborted', reason: 'aborted: switch with force' });
    expect((await call(app, 'PUT', '/v1/services/web/weights', { weights: { blue: 90, green: 10 } })).status).toBe(200);
  });

  it('refuses bad rollouts with a clear error and changes nothing', async () => {
    const { services } = await startBlueGreen();
    const app = await startSwitchyard(services);
    const cases: [unknown, number, string, RegExp][] = [
      [{ to: 'green', steps: [{ weight: 10 }, { weight: 150 }] }, 400, 'INVALID_ROLLOUT', /^steps\[1\]: weight must be an integer from 0 to 100$/],
      [{ to: 'green', steps: [{ pause: 'soon' }] }, 400, 'INVALID_ROLLOUT', /^steps\[0\]: pause is a duration/],
      [{ to: 'green', steps: [{ analysis: 'other' }] }, 400, 'INVALID_ROLLOUT', /^steps\[0\]: analysis must be "default"/],
      [{ to: 'green', steps: [{ weight: 10, pause: '1m' }] }, 400, 'INVALID_ROLLOUT', /exactly one key/],
      [{ to: 'green', steps: [] }, 400, 'INVALID_ROLLOUT', /^steps: /],
      [{ to: 'purple' }, 404, 'UNKNOWN_STACK', /no stack "purple"/],
      [{ to: 'blue' }, 400, 'INVALID_ROLLOUT', /already the active stack/],
      [{ steps: [] }, 400, 'INVALID_BODY', /to/],
    ];
    for (const [body, status, code, message] of cases) {
      const refused = await call(app, 'POST', '/v1/services/web/rollouts', body);
      expect([refused.status, refused.body.error.code], JSON.stringify(body)).toEqual([status, code]);
      expect(refused.body.error.message).toMatch(message);
    }
    expect((await call(app, 'POST', '/v1/services/nope/rollouts', { to: 'green' })).body.error.code).toBe('UNKNOWN_SERVICE');
    expect((await call(app, 'GET', '/v1/services/web/rollout')).body.error.code).toBe('NO_ROLLOUT');
    expect((await call(app, 'POST', '/v1/services/web/rollout/abort', {})).body.error.code).toBe('NO_ROLLOUT');
    expect(app.controller.service('web').state.generation).toBe(1);
  });

  it('refuses a rollout to a stack with no healthy target (409 STACK_UNHEALTHY)', async () => {
    const { services } = await startBlueGreen({ health_check: { path: '/health', interval: '1h', healthy_threshold: 1 } }, { green: () => false });
    const app = await startSwitchyard(services);
    const refused = await call(app, 'POST', '/v1/services/web/rollouts', { to: 'green' });
    expect([refused.status, refused.body.error.code]).toEqual([409, 'STACK_UNHEALTHY']);
  });

  it('runs the steps of services[].rollout when the request names none, ending at 100', async () => {
    const { services } = await startBlueGreen({ rollout: { steps: [{ weight: 40 }, { pause: '10ms' }] } });
    const app = await startSwitchyard(services);
    const completed = rolloutEvent(app, (e) => e.action === 'completed');
    const started = await call(app, 'POST', '/v1/services/web/rollouts', { to: 'green' });
    expect(started.body.steps).toEqual([{ weight: 40 }, { pause: '10ms' }, { weight: 100 }]);
    await completed;
    const reasons = ((await call(app, 'GET', '/v1/services/web/history')).body.history as { reason: string }[]).map((h) => h.reason);
    expect(reasons).toEqual(['rollout step 1/3: weight 40', 'rollout step 3/3: weight 100']);
  });
});
