import { describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from '../../src/config/load.js';

const stacks = { blue: { targets: ['127.0.0.1:1'] }, green: { targets: ['127.0.0.1:2'] } };

function problems(service: Record<string, unknown>): readonly string[] {
  try {
    validateConfig({ listeners: [{ name: 'http', port: 0 }], services: [{ name: 'web', stacks, ...service }] });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('progressive delivery config (SPEC §10)', () => {
  it('fills the defaults of analysis, gates, overrides and mirror', () => {
    const config = validateConfig({ listeners: [{ name: 'http', port: 0 }], services: [{ name: 'web', stacks, mirror: {} }] });
    const web = config.services[0]!;
    expect(web.analysis).toEqual({ interval: 30_000, count: 4, failure_limit: 1, min_requests: 50, max_error_rate: 0.01, provider: 'builtin' });
    expect(web.gates).toEqual({ timeout: 10_000 });
    expect(web.overrides).toEqual([]);
    expect(web.mirror).toEqual({ to: 'standby', percent: 100, max_body: 65_536, max_concurrent: 32, timeout: 5_000 });
    expect(web.rollout).toBeUndefined();
  });

  it('takes the SPEC example as written', () => {
    expect(
      problems({
        rollout: { steps: [{ weight: 10 }, { pause: '2m' }, { analysis: 'default' }, { weight: 50 }, { pause: {} }, { weight: 100 }] },
        analysis: {
          interval: '30s',
          count: 4,
          failure_limit: 1,
          min_requests: 50,
          max_error_rate: 0.01,
          max_p99_ms: 500,
          provider: 'prometheus',
          prometheus: { url: 'http://127.0.0.1:9090', query: 'sum(up)' },
        },
        gates: { pre_rollout: 'http://127.0.0.1:8080/pre', pre_promotion: 'https://gate.example/promote' },
        overrides: [
          { header: 'x-canary', value: 'always', to: 'standby' },
          { cookie: 'canary', value: 'always', to: 'green' },
        ],
        mirror: { to: 'standby', percent: 10 },
      }),
    ).toEqual([]);
  });

  it('lists every bad key by its path', () => {
    expect(
      problems({
        rollout: { steps: [{ weight: 10 }, { weight: 150 }] },
        analysis: { interval: '50ms', max_error_rate: 2, provider: 'prometheus' },
        gates: { pre_rollout: 'ftp://x.example/gate' },
        overrides: [
          { header: 'x-a', cookie: 'a', value: '1', to: 'green' },
          { header: 'x-b', value: '1', to: 'purple' },
        ],
        mirror: { to: 'purple', percent: 150 },
      }),
    ).toEqual([
      'services[0].rollout.steps[1]: weight must be an integer from 0 to 100',
      'services[0].analysis.interval: must be at least 100ms',
      'services[0].analysis.max_error_rate: Too big: expected number to be <=1',
      'services[0].analysis.prometheus: provider prometheus needs prometheus: {url, query}',
      'services[0].gates.pre_rollout: must be an http(s) URL',
      'services[0].overrides[0]: give either header or cookie',
      'services[0].mirror.percent: Too big: expected number to be <=100',
    ]);
    expect(problems({ analysis: { provider: 'prometheus' } })).toEqual(['services[0].analysis.prometheus: provider prometheus needs prometheus: {url, query}']);
    expect(problems({ overrides: [{ header: 'x-b', value: '1', to: 'purple' }], mirror: { to: 'purple' } })).toEqual([
      'services[0].overrides[0].to: must be "active", "standby" or one of the stacks (blue, green)',
      'services[0].mirror.to: must be "active", "standby" or one of the stacks (blue, green)',
    ]);
  });
});
