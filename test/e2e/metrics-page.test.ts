import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { startSwitchyard } from '../helpers/switchyard.js';
import { get as send } from '../helpers/http.js';
import { seriesValue } from '../helpers/metrics-page.js';
import { startBlueGreen, startUpstream } from '../helpers/upstream.js';

const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

let app: Switchyard | undefined;

async function page(started: Switchyard): Promise<string> {
  const response = await fetch(`${started.adminUrl}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

describe('GET /metrics', () => {
  it('counts traffic per stack, switches, weights, health and certificates, with bounded labels', async () => {
    const { green, services } = await startBlueGreen({ hosts: ['web.test'] });
    process.env.SWITCHYARD_METRICS_TOKEN = 'tok';
    app = await startSwitchyard(services, {
      admin: { listen: '127.0.0.1:0', token_env: 'SWITCHYARD_METRICS_TOKEN' },
    });
    const port = app.port('http');
    const get = (path: string, host = 'web.test') => send(port, { path, headers: { host } });
    for (let i = 0; i < 5; i++) await get(`/blue/${i}?q=${i}`);
    await app.controller.switchTo('web', 'green');
    for (let i = 0; i < 3; i++) await get(`/green/${i}`);
    await app.controller.setWeights('web', { blue: 90, green: 10 });
    await get('/', 'unknown.example');
    await app.certificates.addSelfSigned('site', ['web.test']);

    const text = await page(app); // no token needed
    expect(seriesValue(text, 'switchyard_requests_total{service="web",stack="blue",code="200"}')).toBe(5);
    expect(seriesValue(text, 'switchyard_requests_total{service="web",stack="green",code="200"}')).toBe(3);
    expect(seriesValue(text, 'switchyard_requests_total{service="_unmatched",stack="none",code="404"}')).toBe(1);
    expect(seriesValue(text, 'switchyard_request_duration_seconds_count{service="web",stack="blue"}')).toBe(5);
    expect(seriesValue(text, 'switchyard_switches_total{service="web"}')).toBe(2);
    expect(seriesValue(text, 'switchyard_stack_weight{service="web",stack="blue"}')).toBe(90);
    expect(seriesValue(text, 'switchyard_stack_active{service="web",stack="blue"}')).toBe(1);
    expect(seriesValue(text, `switchyard_target_healthy{service="web",stack="green",target="${green.address}"}`)).toBe(1);
    expect(seriesValue(text, 'switchyard_certificate_expiry_timestamp_seconds{name="site"}')).toBeGreaterThan(Date.now() / 1000);
    expect(text).toContain('process_cpu_seconds_total');
    expect(text).not.toMatch(/\/blue\/|unknown\.example|q=/);
    delete process.env.SWITCHYARD_METRICS_TOKEN;

    if (hasPromtool) {
      const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(lint.stdout + lint.stderr).toBe('');
      expect(lint.status).toBe(0);
    } else {
      console.warn('promtool not installed: skipped `promtool check metrics`');
    }
  });

  it('counts upstream errors by kind and target', async () => {
    const dead = await startUpstream('dead');
    await dead.close();
    app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [dead.address] } } }]);
    await fetch(`http://127.0.0.1:${app.port('http')}/`);
    const text = await page(app);
    expect(seriesValue(text, `switchyard_upstream_errors_total{service="web",stack="blue",target="${dead.address}",kind="connect"}`)).toBe(1);
    expect(seriesValue(text, 'switchyard_requests_total{service="web",stack="blue",code="502"}')).toBe(1);
  });
});
