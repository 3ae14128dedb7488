import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/switchyard.js';
import { startTraffic } from '../helpers/traffic.js';
import { startUpstream } from '../helpers/upstream.js';
import { fetchAnswer, startCluster, untilBothWorkers, webService } from './support.js';

/** Progressive delivery with worker processes (SPEC §8, §10): overrides and mirrors act in every worker; the primary's rollout reads the workers' counts. */
describe('workers: overrides, mirroring and a judged rollout', () => {
  it('routes a run-time override in every worker, sums their mirror counts, and completes a rollout judged from their answers', async () => {
    const blue = await startUpstream('blue');
    const green = await startUpstream('green');
    const more = '    mirror: { to: standby, percent: 100 }\n    analysis: { interval: 500ms, count: 1, min_requests: 5 }\n';
    const sy = await startCluster(webService(blue.address, green.address, more));

    expect((await sy.call('PUT', '/v1/services/web/overrides', { overrides: [{ header: 'x-canary', value: 'always', to: 'green' }] })).status).toBe(200);
    const tester = await untilBothWorkers(() => fetchAnswer(sy.proxyPort, false, '/', { 'x-canary': 'always' }), 4);
    expect(tester.map((a) => a.body)).toEqual(tester.map(() => 'green'));

    const users = await untilBothWorkers(() => fetchAnswer(sy.proxyPort, false, '/users'), 4);
    expect(users.map((a) => a.body)).toEqual(users.map(() => 'blue'));
    const mirrored = async () => {
      const page = await (await fetch(`${sy.adminUrl}/metrics`)).text();
      return Number(/switchyard_mirror_requests_total\{service="web",stack="green",result="answered"\} (\d+)/.exec(page)?.[1] ?? 0);
    };
    await waitFor(async () => (await mirrored()) >= users.length, 5000, 'the copies of both workers counted on the primary');

    const traffic = startTraffic(sy.proxyPort);
    expect(
      (await sy.call('POST', '/v1/services/web/rollouts', { to: 'green', steps: [{ weight: 50 }, { analysis: 'default' }, { weight: 100 }] })).status,
    ).toBe(201);
    await waitFor(async () => ((await sy.call('GET', '/v1/services/web/rollout')).json as { state: string }).state !== 'running', 15_000, 'the rollout ends');
    await traffic.stop();
    const rollout = (await sy.call('GET', '/v1/services/web/rollout')).json as { state: string; analysis: { verdict: string; requests: number } };
    expect(rollout.state).toBe('completed');
    expect(rollout.analysis).toMatchObject({ verdict: 'pass' });
    expect(rollout.analysis.requests).toBeGreaterThanOrEqual(5);
  }, 40_000);
});
