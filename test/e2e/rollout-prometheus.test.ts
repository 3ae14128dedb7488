import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { adminCall } from '../helpers/admin-call.js';
import { freePort } from '../helpers/child-switchyard.js';
import { startSwitchyard, tempDir, waitFor } from '../helpers/switchyard.js';
import { rolloutEvent, startTraffic } from '../helpers/traffic.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/**
 * The prometheus analysis provider against a real Prometheus (Debian's `prometheus`),
 * started here on a free port, scraping this file's switchyard every second.
 */
const installed = spawnSync('prometheus', ['--version']).status === 0;
const INSTALL = 'Debian package "prometheus": apt-get install -y prometheus';
if (!installed && process.env.CI !== 'true') console.warn(`rollout-prometheus: skipped, prometheus is not installed (${INSTALL})`);

/** 5xx share of a stack over the last 5 s; `or vector(0)` keeps a stack with no 5xx at 0 rather than "no data". */
const ERROR_RATE =
  '(sum(rate(switchyard_requests_total{service="{{service}}",stack="{{stack}}",code=~"5.."}[5s])) or vector(0))' +
  ' / sum(rate(switchyard_requests_total{service="{{service}}",stack="{{stack}}"}[5s]))';

describe.runIf(installed || process.env.CI === 'true')('prometheus analysis against a real Prometheus', () => {
  let app: Switchyard;
  let prometheus: ChildProcess | undefined;
  let output = '';
  const upstreams: Upstream[] = [];

  beforeAll(async () => {
    if (!installed) throw new Error(`prometheus is not installed and CI=true: this test must run (${INSTALL})`);
    const promPort = await freePort();
    const url = `http://127.0.0.1:${promPort}`;
    const ok = async () => {
      const upstream = await startUpstream('ok');
      upstreams.push(upstream);
      return upstream;
    };
    const blue = await ok();
    const green = await ok();
    const failing = await startUpstream('fail', (_req, res) => res.writeHead(500).end('fail'));
    upstreams.push(failing);
    const analysis = (query: string, prometheusUrl = url) => ({
      interval: '1s',
      count: 2,
      failure_limit: 1,
      provider: 'prometheus',
      prometheus: { url: prometheusUrl, query },
    });
    const service = (name: string, greenTarget: Upstream, query: string, prometheusUrl?: string) => ({
      name,
      hosts: [`${name}.test`],
      stacks: { blue: { targets: [blue.address] }, green: { targets: [greenTarget.address] } },
      analysis: analysis(query, prometheusUrl),
    });
    const closedPort = await freePort();
    app = await startSwitchyard([
      service('good', green, ERROR_RATE),
      service('bad', failing, ERROR_RATE),
      service('broken', green, 'sum(rate(switchyard_requests_total[5s]'),
      service('unreachable', green, ERROR_RATE, `http://127.0.0.1:${closedPort}`),
    ]);
    const dir = tempDir();
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'scrape_configs:',
        '  - job_name: switchyard',
        '    scrape_interval: 1s',
        '    scrape_timeout: 1s',
        `    static_configs: [{ targets: ["${new URL(app.adminUrl).host}"] }]`,
        '',
      ].join('\n'),
    );
    prometheus = spawn(
      'prometheus',
      [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout?.on('data', (c: Buffer) => (output += c.toString()));
    prometheus.stderr?.on('data', (c: Buffer) => (output += c.toString()));
    await waitFor(
      async () => {
        if (prometheus?.exitCode !== null) throw new Error(`prometheus exited: ${output}`);
        return fetch(`${url}/-/ready`).then(
          (r) => r.ok,
          () => false,
        );
      },
      30_000,
      'prometheus ready',
    );
  }, 40_000);

  afterAll(async () => {
    await app?.stop(0);
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus?.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await exited;
    }
    await Promise.all(upstreams.map((u) => u.close()));
  });

  it('passes a healthy green on the query value and completes', async () => {
    const traffic = startTraffic(app.port('http'), { headers: { host: 'good.test' } });
    const done = rolloutEvent(app, (e) => e.service === 'good' && (e.action === 'completed' || e.action === 'aborted'), 30_000);
    await adminCall(app, 'POST', '/v1/services/good/rollouts', { to: 'green', steps: [{ weight: 50 }, { analysis: 'default' }, { weight: 100 }] });
    const end = await done;
    await traffic.stop();
    expect(end).toMatchObject({ action: 'completed', weights: { blue: 0, green: 100 } });
    expect(end.analysis).toMatchObject({ provider: 'prometheus', verdict: 'pass', value: 0, passes: 2 });
    expect(String(end.analysis?.query)).toContain('service="good",stack="green"');
  }, 40_000);

  it('aborts a green whose error rate the query finds above max', async () => {
    const traffic = startTraffic(app.port('http'), { headers: { host: 'bad.test' } });
    const done = rolloutEvent(app, (e) => e.service === 'bad' && (e.action === 'completed' || e.action === 'aborted'), 30_000);
    await adminCall(app, 'POST', '/v1/services/bad/rollouts', { to: 'green', steps: [{ weight: 50 }, { analysis: 'default' }, { weight: 100 }] });
    const end = await done;
    await traffic.stop();
    expect(end).toMatchObject({ action: 'aborted', weights: { blue: 100, green: 0 } });
    expect(end.reason).toMatch(/^aborted: prometheus value (0\.\d+|1) > 0\.01$/);
    expect(app.controller.service('bad').state.history.at(-1)?.reason).toBe(end.reason);
  }, 40_000);

  it('counts a query Prometheus refuses as a failed measurement', async () => {
    const done = rolloutEvent(app, (e) => e.service === 'broken' && e.action === 'aborted', 30_000);
    await adminCall(app, 'POST', '/v1/services/broken/rollouts', { to: 'green', steps: [{ weight: 10 }, { analysis: 'default' }, { weight: 100 }] });
    const end = await done;
    expect(end.reason).toMatch(/^aborted: prometheus query failed: HTTP 400: .*parse error/);
    expect(end.weights).toEqual({ blue: 100, green: 0 });
  }, 40_000);

  it('counts an unreachable Prometheus as a failed measurement', async () => {
    const done = rolloutEvent(app, (e) => e.service === 'unreachable' && e.action === 'aborted', 30_000);
    await adminCall(app, 'POST', '/v1/services/unreachable/rollouts', { to: 'green', steps: [{ weight: 10 }, { analysis: 'default' }, { weight: 100 }] });
    expect((await done).reason).toMatch(/^aborted: prometheus query failed: .*ECONNREFUSED/);
  }, 40_000);
});
