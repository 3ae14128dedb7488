import { describe, expect, it } from 'vitest';
import { buildSteps, formatRollout, type RolloutJson } from '../../src/cli/commands/rollout.js';
import { adminCall } from '../helpers/admin-call.js';
import { runCli as run } from '../helpers/child-switchyard.js';
import { startSwitchyard, waitFor } from '../helpers/switchyard.js';
import { rolloutEvent } from '../helpers/traffic.js';
import { startBlueGreen } from '../helpers/upstream.js';

describe('switchyard rollout (CLI)', () => {
  it('starts with --steps/--pause, shows status with the time left, promotes; status --watch exits 0 when it completes', async () => {
    const { services } = await startBlueGreen();
    const app = await startSwitchyard(services);
    const admin = ['--admin', app.adminUrl];
    const started = await run([...admin, 'rollout', 'start', 'web', 'green', '--steps', '10,100', '--pause', '1h']);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toMatch(/^web → green: running {2}step 1\/3 weight 10/);
    expect(app.controller.service('web').state.rollout?.steps).toEqual([{ weight: 10 }, { pause: '1h' }, { weight: 100 }]);
    await waitFor(() => app.controller.service('web').state.rollout?.pause_until != null);
    const status = await run([...admin, 'rollout', 'status', 'web']);
    expect(status.stdout).toMatch(/^web → green: running {2}step 2\/3 pause 1h \((59m\d\ds|60m00s) left\) {2}blue=90 green=10/);

    const watching = run([...admin, 'rollout', 'status', 'web', '--watch', '--interval', '100ms']);
    const promoted = await run([...admin, 'rollout', 'promote', 'web']);
    expect(promoted.code, promoted.stderr).toBe(0);
    const watched = await watching;
    expect(watched.code).toBe(0);
    expect(watched.stdout.trim().split('\n').at(-1)).toBe('web → green: completed  step 3/3 weight 100  blue=0 green=100');
  });

  it('status --watch exits 1 when the rollout aborts; abort prints the reason', async () => {
    const { services } = await startBlueGreen();
    const app = await startSwitchyard(services);
    const admin = ['--admin', app.adminUrl];
    await adminCall(app, 'POST', '/v1/services/web/rollouts', { to: 'green', steps: [{ weight: 20 }, { pause: {} }] });
    await rolloutEvent(app, (e) => e.action === 'paused');
    const watching = run([...admin, 'rollout', 'status', 'web', '--watch', '--interval', '100ms']);
    const paused = await run([...admin, 'rollout', 'pause', 'web']);
    expect(paused.stdout).toContain('paused');
    const aborted = await run([...admin, 'rollout', 'abort', 'web', '--reason', 'bad canary']);
    expect(aborted.code).toBe(0);
    expect(aborted.stdout).toContain('aborted: bad canary');
    const watched = await watching;
    expect(watched.code).toBe(1);
    expect(watched.stdout).toContain('web → green: aborted');
    expect(app.controller.service('web').weights).toEqual([100, 0]);
  });

  it('exits 1 on a refused call and 2 on bad usage', async () => {
    const { services } = await startBlueGreen();
    const app = await startSwitchyard(services);
    const admin = ['--admin', app.adminUrl];
    const none = await run([...admin, 'rollout', 'status', 'web', '--watch']);
    expect([none.code, none.stderr.trim()]).toEqual([1, 'error: NO_ROLLOUT: service "web" has no rollout']);
    expect((await run([...admin, 'rollout', 'resume', 'web'])).code).toBe(1);
    expect((await run([...admin, 'rollout', 'start', 'web', 'green', '--steps', '10,abc'])).code).toBe(2);
    expect((await run([...admin, 'rollout', 'start', 'web', 'green', '--pause', 'soon'])).code).toBe(2);
    expect((await run([...admin, 'rollout', 'status', 'web', '--interval', 'x'])).code).toBe(2);
    expect((await run([...admin, 'rollout', 'start', 'web'])).code).toBe(2);
    expect(app.controller.service('web').state.rollout).toBeUndefined();
  });
});

describe('buildSteps', () => {
  it('puts the pause and the analysis after each weight below 100', () => {
    expect(buildSteps('10,50,100', '2m', true)).toEqual([
      { weight: 10 },
      { pause: '2m' },
      { analysis: 'default' },
      { weight: 50 },
      { pause: '2m' },
      { analysis: 'default' },
      { weight: 100 },
    ]);
    expect(buildSteps('25', undefined, false)).toEqual([{ weight: 25 }]);
  });
});

describe('formatRollout', () => {
  const base: RolloutJson = {
    service: 'web',
    from: 'blue',
    to: 'green',
    state: 'running',
    step: 1,
    steps: [{ weight: 10 }, { analysis: 'default' }, { weight: 100 }],
    weights: { blue: 90, green: 10 },
    analysis: { provider: 'builtin', verdict: 'pass', error_rate: 0.002, requests: 412, p99_ms: 23.4, passes: 1, count: 4, failures: 0, failure_limit: 1 },
    reason: null,
    pause: null,
  };

  it('shows step, weights and the analysis figures', () => {
    expect(formatRollout(base).line).toBe(
      'web → green: running  step 2/3 analysis  blue=90 green=10  analysis: error rate 0.002, 412 req, p99 23ms, 1/4 passed, 0/1 failed',
    );
  });

  it('counts a pause down, and keeps the steady line without it', () => {
    const paused = { ...base, step: 1, steps: [{ weight: 10 }, { pause: '2m' }, { weight: 100 }], analysis: null, pause: { until: 'x', remaining_ms: 72_000 } };
    expect(formatRollout(paused)).toEqual({
      line: 'web → green: running  step 2/3 pause 2m (1m12s left)  blue=90 green=10',
      steady: 'web → green: running  step 2/3 pause 2m  blue=90 green=10',
    });
  });
});
