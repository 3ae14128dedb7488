import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/switchyard.js';
import { startUpstream } from '../helpers/upstream.js';
import { type Cluster, fetchAnswer, startCluster } from './support.js';

const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

/** Sum of every sample whose series starts with `prefix` (name and the labels given first). */
function total(page: string, prefix: string): number {
  return page
    .split('\n')
    .filter((line) => line.startsWith(prefix))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

async function scrape(sy: Cluster): Promise<string> {
  const response = await fetch(`${sy.adminUrl}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

async function send(sy: Cluster, n: number, path = '/'): Promise<Set<string>> {
  const answers = await Promise.all(Array.from({ length: n }, () => fetchAnswer(sy.proxyPort, false, path)));
  return new Set(answers.map((a) => a.worker));
}

describe('workers: /metrics', () => {
  it('sums the counters of every worker into one page, keeps a dead worker’s counts, and stays promtool-clean', async () => {
    const web = await startUpstream('web');
    const dead = await startUpstream('dead');
    await dead.close();
    const services = `  - name: web\n    stacks: { blue: { targets: ["${web.address}"] } }\n  - name: broken\n    paths: ["/broken"]\n    stacks: { blue: { targets: ["${dead.address}"] } }\n`;
    const sy = await startCluster(services);
    expect(await send(sy, 40)).toEqual(new Set(['1', '2']));
    await send(sy, 6, '/broken');

    const page = await scrape(sy);
    expect(total(page, 'switchyard_requests_total{service="web",stack="blue",code="200"}')).toBe(40);
    expect(total(page, 'switchyard_request_duration_seconds_count{service="web",stack="blue"}')).toBe(40);
    expect(total(page, 'switchyard_request_duration_seconds_bucket{service="web",stack="blue",le="+Inf"}')).toBe(40);
    expect(total(page, 'switchyard_requests_total{service="broken",stack="blue",code="502"}')).toBe(6);
    expect(total(page, `switchyard_upstream_errors_total{service="broken",stack="blue",target="${dead.address}",kind="connect"}`)).toBe(6);
    expect(page).not.toContain('worker="');
    expect(page).toContain('switchyard_workers 2');
    if (hasPromtool) {
      const lint = spawnSync('promtool', ['check', 'metrics'], { input: page, encoding: 'utf8' });
      expect(lint.stdout + lint.stderr).toBe('');
    } else console.warn('promtool not installed: skipped `promtool check metrics`');

    // A worker killed after that scrape: what it counted stays, and the group counts on.
    const victim = (await sy.workers()).workers.find((w) => w.id === 1);
    process.kill(victim?.pid ?? 0, 'SIGKILL');
    await waitFor(async () => (await sy.workers()).workers.some((w) => w.id === 1 && w.state === 'ready' && w.pid !== victim?.pid), 5000, 'respawn');
    expect(total(await scrape(sy), 'switchyard_requests_total{service="web"')).toBe(40);
    expect(await send(sy, 10)).toEqual(new Set(['1', '2']));
    const after = await scrape(sy);
    expect(total(after, 'switchyard_requests_total{service="web"')).toBe(50);
    expect(total(after, 'switchyard_upstream_errors_total{service="broken"')).toBe(6);
    expect(after).toContain('switchyard_worker_restarts_total{reason="exited"} 1');
  });

  it('labels the counters by worker with metrics.per_worker', async () => {
    const web = await startUpstream('web');
    const sy = await startCluster(`  - name: web\n    stacks: { blue: { targets: ["${web.address}"] } }\n`, { extra: 'metrics: { per_worker: true }\n' });
    expect(await send(sy, 20)).toEqual(new Set(['1', '2']));
    const page = await scrape(sy);
    const one = total(page, 'switchyard_requests_total{service="web",stack="blue",worker="1"');
    const two = total(page, 'switchyard_requests_total{service="web",stack="blue",worker="2"');
    expect(one).toBeGreaterThan(0);
    expect(two).toBeGreaterThan(0);
    expect(one + two).toBe(20);
    expect(page).not.toMatch(/switchyard_requests_total\{service="web",stack="blue",code=/);
  });
});
