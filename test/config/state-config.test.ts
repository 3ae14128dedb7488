import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from '../../src/config/load.js';
import { keepRestartOnly } from '../../src/config/reload-modes.js';
import { runCli } from '../helpers/child-switchyard.js';

const base = {
  listeners: [{ name: 'http', port: 9000 }],
  services: [{ name: 'web', stacks: { blue: { targets: ['127.0.0.1:8080'] } } }],
};

function problems(document: unknown): readonly string[] {
  try {
    validateConfig(document);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('the state key', () => {
  it('is the file store unless it says etcd', () => {
    expect(validateConfig(base).state).toEqual({ store: 'file', path: 'state/switchyard.json' });
    expect(validateConfig({ ...base, state: { path: 's.json' } }).state).toEqual({ store: 'file', path: 's.json' });
    expect(validateConfig({ ...base, state: { store: 'etcd', endpoints: ['http://10.0.0.5:2379'] } }).state).toEqual({
      store: 'etcd',
      endpoints: ['http://10.0.0.5:2379'],
      prefix: '/switchyard/',
      path: 'state/switchyard.json',
      wait_timeout: 5000,
    });
  });

  it.each([
    [{ store: 'consul' }, 'state.store: store must be "file" or "etcd"'],
    [{ store: 'etcd' }, 'state.endpoints:'],
    [{ store: 'etcd', endpoints: ['etcd:2379'] }, 'state.endpoints[0]: must be an http:// or https:// URL'],
    [{ store: 'file', endpoints: ['http://a:1'] }, 'Unrecognized key: "endpoints"'],
    [{ store: 'etcd', endpoints: ['http://a:1'], username_env: 'U' }, 'state.password_env: username_env and password_env go together'],
  ])('refuses state %j with a problem naming the key', (state, problem) => {
    expect(problems({ ...base, state }).join('\n')).toContain(problem);
  });

  it('keeps the running store on a reload that changes it (restart-only), whichever way', () => {
    const file = validateConfig(base);
    const etcd = validateConfig({ ...base, state: { store: 'etcd', endpoints: ['http://a:1'], tls: { ca: 'ca.pem' }, wait_timeout: '1s' } });
    const toEtcd = keepRestartOnly(file, etcd);
    expect(toEtcd.config.state).toEqual(file.state);
    expect(toEtcd.kept.map((k) => k.key)).toEqual(['state.store', 'state.endpoints', 'state.prefix', 'state.tls.ca', 'state.wait_timeout']);
    const toFile = keepRestartOnly(etcd, file);
    expect(toFile.config.state).toEqual(etcd.state);
    const moved = keepRestartOnly(etcd, validateConfig({ ...base, state: { store: 'etcd', endpoints: ['http://b:1'] } }));
    expect(moved.config.state).toEqual(etcd.state);
    expect(moved.kept.map((k) => k.key)).toEqual(['state.endpoints', 'state.tls.ca', 'state.wait_timeout']);
  });

  it('exits 2 naming the key when a state setting only checkable at start is missing (a credential variable)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-state-config-'));
    const config = join(dir, 'switchyard.yaml');
    writeFileSync(
      config,
      [
        'listeners: [{ name: http, port: 0, address: 127.0.0.1 }]',
        'admin: { listen: "127.0.0.1:0" }',
        'state: { store: etcd, endpoints: ["http://127.0.0.1:9"], username_env: SY_TEST_NO_SUCH_USER, password_env: SY_TEST_NO_SUCH_PASS }',
        `certs_dir: ${join(dir, 'certs')}`,
        'logging: { level: silent }',
        'services: [{ name: web, stacks: { blue: { targets: ["127.0.0.1:1"] } } }]',
      ].join('\n'),
    );
    const run = await runCli(['start', '--config', config]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('state.username_env: environment variable SY_TEST_NO_SUCH_USER is not set');
  });
});
