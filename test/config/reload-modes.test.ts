import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { keepRestartOnly, keyModes, RESTART_ONLY_KEYS } from '../../src/config/reload-modes.js';

const base = {
  listeners: [{ name: 'http', port: 9000 }],
  services: [{ name: 'web', stacks: { blue: { targets: ['127.0.0.1:8080'] } } }],
};

describe('config reload modes', () => {
  describe('#keyModes', () => {
    it('marks every key of the schema as reloadable or restart-only', () => {
      const modes = keyModes();
      expect(modes.filter((k) => k.mode === undefined).map((k) => k.key)).toEqual([]);
      expect(modes.map((k) => k.key)).toContain('limits.max_connections');
      expect(modes.map((k) => k.key)).toContain('admin.listen');
    });

    it('lists the restart-only keys', () => {
      expect(RESTART_ONLY_KEYS).toEqual([
        'admin.listen',
        'admin.token_env',
        'admin.body_limit',
        'state.store',
        'state.path',
        'state.endpoints',
        'state.prefix',
        'state.tls.ca',
        'state.tls.cert',
        'state.tls.key',
        'state.username_env',
        'state.password_env',
        'state.instance_id',
        'state.wait_timeout',
        'certs_dir',
        'demo_backends',
        'workers',
        'metrics.enabled',
        'metrics.per_worker',
        'limits.max_header_size',
        'limits.send_timeout',
        'limits.request_buffer',
        'limits.request_buffer_total',
        'limits.response_spool',
        'limits.response_spool_total',
        'limits.h2_max_concurrent_streams',
        'limits.h2_max_stream_resets',
        'upstream.idle_timeout',
        'upstream.max_sockets',
        'debug.worker_header',
      ]);
    });

    it('is the list the README names as restart-only', () => {
      const readme = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');
      const section = /<!-- restart-only keys -->([\s\S]*?)<!-- \/restart-only keys -->/.exec(readme)?.[1] ?? '';
      const named = [...section.matchAll(/`([a-z0-9_.]+)`/g)].map((m) => m[1]);
      expect(named).toEqual(RESTART_ONLY_KEYS);
    });
  });

  describe('#keepRestartOnly', () => {
    it('keeps the running value of each restart-only key that differs and reports it', () => {
      const running = validateConfig(base);
      const next = validateConfig({ ...base, admin: { listen: '127.0.0.1:9999' }, upstream: { max_sockets: 8, max_fails: 7 }, limits: { max_connections: 3 } });
      const { config, kept } = keepRestartOnly(running, next);
      expect(kept).toEqual([
        { key: 'admin.listen', running: '127.0.0.1:9901', next: '127.0.0.1:9999' },
        { key: 'upstream.max_sockets', running: 256, next: 8 },
      ]);
      expect(config.admin.listen).toBe('127.0.0.1:9901');
      expect(config.upstream.max_sockets).toBe(256);
      expect(config.upstream.max_fails).toBe(7);
      expect(config.limits.max_connections).toBe(3);
      expect(Object.isFrozen(config.upstream)).toBe(true);
      expect(next.admin.listen).toBe('127.0.0.1:9999');
    });

    it('returns the new config itself when no restart-only key differs', () => {
      const running = validateConfig(base);
      const next = validateConfig({ ...base, limits: { max_connections: 3 } });
      expect(keepRestartOnly(running, next)).toEqual({ config: next, kept: [] });
      expect(keepRestartOnly(running, next).config).toBe(next);
    });
  });
});

describe('config defaults', () => {
  it('fills nested defaults when a section is left out or given empty', () => {
    const left = validateConfig(base);
    const empty = validateConfig({ ...base, admin: {}, state: {}, logging: {}, metrics: {}, limits: {}, upstream: {}, hooks: {} });
    expect(empty).toEqual(left);
    expect(left.admin).toEqual({ listen: '127.0.0.1:9901', token_env: 'SWITCHYARD_ADMIN_TOKEN', body_limit: 1_048_576 });
    expect(left.limits.max_connections).toBe(10_000);
    expect(left.upstream).toMatchObject({ response_timeout: 30_000, max_fails: 3, fail_timeout: 10_000 });
    expect(left.hooks).toEqual({});
  });

  it('keeps the other defaults of a section when one key is given', () => {
    const config = validateConfig({ ...base, limits: { max_connections: 5 } });
    expect(config.limits).toMatchObject({ max_connections: 5, max_header_size: 16_384, header_timeout: 10_000 });
  });

  it('stores host names lower case and without the trailing dot, as requests are matched', () => {
    const config = validateConfig({ ...base, services: [{ ...base.services[0], hosts: ['Web.Example.COM.'] }] });
    expect(config.services[0]?.hosts).toEqual(['web.example.com']);
  });
});
