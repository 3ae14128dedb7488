import { describe, expect, it } from 'vitest';
import { adminCall, type Json } from '../helpers/admin-call.js';
import { runCli, startChild, writeChildConfig } from '../helpers/child-switchyard.js';
import { tempDir, waitFor } from '../helpers/switchyard.js';
import { startUpstream } from '../helpers/upstream.js';

/** Rollout durability (SPEC §10): a real switchyard killed with SIGKILL mid-rollout resumes at the same step with what was left of its pause. */
describe('rollout across kill -9', () => {
  it('resumes at the same step with the remaining pause, applies each weight step once, and a watching CLI sees it through', async () => {
    const blue = await startUpstream('blue');
    const green = await startUpstream('green');
    const dir = tempDir();
    const { configPath, proxyPort, adminPort } = await writeChildConfig(
      dir,
      `  - name: web\n    stacks:\n      blue: { targets: ["${blue.address}"] }\n      green: { targets: ["${green.address}"] }\n`,
    );
    const first = await startChild(configPath, proxyPort, adminPort);
    const rollout = () => adminCall(first.adminUrl, 'GET', '/v1/services/web/rollout').then((r) => r.body);
    const started = await adminCall(first.adminUrl, 'POST', '/v1/services/web/rollouts', {
      to: 'green',
      steps: [{ weight: 10 }, { pause: '5s' }, { weight: 100 }],
    });
    expect(started.status).toBe(201);
    await waitFor(async () => (await rollout()).pause !== null, 5000, 'pause stored');
    const before = await rollout();
    expect(before).toMatchObject({ state: 'running', step: 1, weights: { blue: 90, green: 10 } });
    const until = before.pause.until as string;
    // A CI pipeline's watch, running through the crash.
    const watching = runCli(['--admin', first.adminUrl, 'rollout', 'status', 'web', '--watch', '--interval', '100ms'], 60_000);

    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    const second = await startChild(configPath, proxyPort, adminPort);
    const after = (await adminCall(second.adminUrl, 'GET', '/v1/services/web/rollout')).body;
    expect(after).toMatchObject({ state: 'running', step: 1, weights: { blue: 90, green: 10 }, pause: { until } });
    expect(after.pause.remaining_ms).toBeGreaterThan(0);
    expect(after.pause.remaining_ms).toBeLessThan(5000);
    console.info(`after restart: ${after.pause.remaining_ms} ms of the 5 s pause left`);

    const watched = await watching;
    expect(watched.code, watched.stdout + watched.stderr).toBe(0);
    expect(watched.stdout).toContain('web → green: completed');
    const history = (await adminCall(second.adminUrl, 'GET', '/v1/services/web/history')).body.history as Json[];
    expect(history.map((h) => h.reason)).toEqual(['rollout step 1/3: weight 10', 'rollout step 3/3: weight 100']);
    // The pause ended when it would have without the crash: not earlier, and not a whole new pause after the restart.
    expect(Date.parse(history[1]?.time)).toBeGreaterThanOrEqual(Date.parse(until));
    expect(Date.parse(history[1]?.time) - Date.parse(until)).toBeLessThan(3000);
  }, 60_000);
});
