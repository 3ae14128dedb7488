import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { etcdStateConfig } from '../../src/config/state-config.js';
import { resolveEtcdOptions } from '../../src/state/etcd/config.js';
import { KeyLayout } from '../../src/state/etcd/records.js';
import { etcdAvailable } from '../helpers/etcd.js';

function issues(input: unknown): string[] {
  const parsed = etcdStateConfig.safeParse(input);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('etcdStateConfig', () => {
  it('fills in the defaults of SPEC §9', () => {
    expect(etcdStateConfig.parse({ store: 'etcd', endpoints: ['http://10.0.0.5:2379'] })).toEqual({
      store: 'etcd',
      endpoints: ['http://10.0.0.5:2379'],
      prefix: '/switchyard/',
      path: 'state/switchyard.json',
      wait_timeout: 5000,
    });
  });

  it.each([
    [{ store: 'etcd', endpoints: [] }, 'endpoints: needs at least one etcd endpoint'],
    [{ store: 'etcd', endpoints: ['10.0.0.5:2379'] }, 'endpoints.0: must be an http:// or https:// URL'],
    [{ store: 'etcd', endpoints: ['http://a:1'], prefix: 'switchyard' }, 'prefix: must start with "/"'],
    [{ store: 'etcd', endpoints: ['http://a:1'], tls: { cert: 'c.pem' } }, 'tls: cert and key go together'],
    [{ store: 'etcd', endpoints: ['http://a:1'], username_env: 'U' }, 'password_env: username_env and password_env go together'],
    [{ store: 'etcd', endpoints: ['http://a:1'], wait_timeout: 'soon' }, 'wait_timeout: must be a duration'],
    [{ store: 'etcd', endpoints: ['http://a:1'], endpoint: 'http://a:1' }, 'Unrecognized key'],
  ])('refuses %j with a message naming the field', (input, message) => {
    expect(issues(input).join('\n')).toContain(message);
  });
});

describe('resolveEtcdOptions', () => {
  const base = etcdStateConfig.parse({ store: 'etcd', endpoints: ['https://e1:2379'], username_env: 'ETCD_USER', password_env: 'ETCD_PASS' });

  it('reads credentials from the environment, TLS files from disk, and defaults the instance id to host:admin port', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-etcd-config-'));
    writeFileSync(join(dir, 'ca.pem'), 'CA PEM');
    const config = etcdStateConfig.parse({ ...base, tls: { ca: join(dir, 'ca.pem') } });
    const options = resolveEtcdOptions(config, { env: { ETCD_USER: 'sw', ETCD_PASS: 'pw' }, adminListen: '127.0.0.1:9901', hostname: 'node-7' });
    expect(options).toMatchObject({ instanceId: 'node-7:9901', auth: { username: 'sw', password: 'pw' }, tls: { ca: 'CA PEM' }, waitTimeout: 5000 });
    rmSync(dir, { recursive: true, force: true });
  });

  it('names the missing environment variable or unreadable file', () => {
    expect(() => resolveEtcdOptions(base, { env: { ETCD_USER: 'sw' }, adminListen: '127.0.0.1:9901' })).toThrow(
      'state.password_env: environment variable ETCD_PASS is not set',
    );
    const config = etcdStateConfig.parse({ store: 'etcd', endpoints: ['https://e1:2379'], tls: { ca: '/nonexistent/ca.pem' } });
    expect(() => resolveEtcdOptions(config, { env: {}, adminListen: '[::1]:9901' })).toThrow('state.tls.ca: cannot read /nonexistent/ca.pem');
  });
});

describe('KeyLayout', () => {
  it('builds and parses keys, escaping "/" and "%" in names only', () => {
    const layout = new KeyLayout('/sy');
    expect(layout.key('members', 'host:9901')).toBe('/sy/members/host:9901');
    expect(layout.key('certs', 'a/b%c')).toBe('/sy/certs/a%2Fb%25c');
    expect(layout.parse('/sy/certs/a%2Fb%25c')).toEqual({ kind: 'certs', name: 'a/b%c' });
    expect(layout.parse('/sy/services/web')).toEqual({ kind: 'services', name: 'web' });
    for (const foreign of ['/other/services/web', '/sy/unknown/web', '/sy/services/', '/sy/services/a/b', '/sy/services']) {
      expect(layout.parse(foreign)).toBeUndefined();
    }
  });
});

describe('etcd test helper', () => {
  it('skips with one line naming the package without etcd, and fails loudly with CI=true', () => {
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => written.push(chunk) > 0) as typeof process.stderr.write;
    try {
      expect(etcdAvailable('test/state/x.test.ts', { PATH: '/nonexistent' })).toBe(false);
    } finally {
      process.stderr.write = write;
    }
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^etcd not found: .*x\.test\.ts skipped \(Debian package etcd-server: apt-get install -y etcd-server\)\n$/);
    expect(() => etcdAvailable('test/state/x.test.ts', { PATH: '/nonexistent', CI: 'true' })).toThrow(/CI=true and etcd not found/);
  });
});
