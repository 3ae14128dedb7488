import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/switchyard.js';
import { startUpstream } from '../helpers/upstream.js';
import { type Cluster, fetchAnswer, startCluster, untilBothWorkers } from './support.js';

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

/** Requests on fresh connections until both workers answered and at least `min` were sent; how many were sent. */
async function send(sy: Cluster, min: number): Promise<number> {
  return (await untilBothWorkers(() => fetchAnswer(sy.proxyPort, false), min)).length;
}

describe('workers: /metrics', () => {
  it('sums the counters of every worker into one page, keeps a dead worker’s counts, and stays promtool-clean', async () => {
    const web = await startUpstream('web');
    const dead = await startUpstream('dead');
    await dead.close();
    const services = `  - name: web\n    stacks: { blue: { targets: ["${web.address}"] } }\n  - name: broken\n    paths: ["/broken"]\n    stacks: { blue: { targets: ["${dead.address}"] } }\n`;
    const sy = await startCluster(services);
    const sent = await send(sy, 40);
    // Answered by switchyard itself (502), without the worker header: just sent.
    const broken = 6;
    for (let i = 0; i < broken; i++) expect((await fetchAnswer(sy.proxyPort, false, '/broken')).status).toBe(502);

    const page = await scrape(sy);
    expect(total(page, 'switchyard_requests_total{service="web",stack="blue",code="200"}')).toBe(sent);
    expect(total(page, 'switchyard_request_duration_seconds_count{service="web",stack="blue"}')).toBe(sent);
    expect(total(page, 'switchyard_request_duration_seconds_bucket{service="web",stack="blue",le="+Inf"}')).toBe(sent);
    expect(total(page, 'switchyard_requests_total{service="broken",stack="blue",code="502"}')).toBe(broken);
    expect(total(page, `switchyard_upstream_errors_total{service="broken",stack="blue",target="${dead.address}",kind="connect"}`)).toBe(broken);
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
    expect(total(await scrape(sy), 'switchyard_requests_total{service="web"')).toBe(sent);
    const more = await send(sy, 10);
    const after = await scrape(sy);
    expect(total(after, 'switchyard_requests_total{service="web"')).toBe(sent + more);
    expect(total(after, 'switchyard_upstream_errors_total{service="broken"')).toBe(broken);
    expect(after).toContain('switchyard_worker_restarts_total{reason="exited"} 1');
  });

  it('labels the counters by worker with metrics.per_worker', async () => {
    const web = await startUpstream('web');
    const sy = await startCluster(`  - name: web\n    stacks: { blue: { targets: ["${web.address}"] } }\n`, { extra: 'metrics: { per_worker: true }\n' });
    const sent = await send(sy, 20);
    const page = await scrape(sy);
    const one = total(page, 'switchyard_requests_total{service="web",stack="blue",worker="1"');
    const two = total(page, 'switchyard_requests_total{service="web",stack="blue",worker="2"');
    expect(one).toBeGreaterThan(0);
    expect(two).toBeGreaterThan(0);
    expect(one + two).toBe(sent);
    expect(page).not.toMatch(/switchyard_requests_total\{service="web",stack="blue",code=/);
  });
});
