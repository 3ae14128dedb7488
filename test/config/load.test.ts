import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { parseDuration } from '../../src/config/duration.js';

const SPEC_EXAMPLE = `
listeners:
  - { name: http,  port: 9000 }
  - { name: https, port: 9001, tls: true, default_cert: localhost }
  - { name: preview, port: 9002, address: 127.0.0.1, route_to: standby }
admin:
  listen: 127.0.0.1:9901
  token_env: SWITCHYARD_ADMIN_TOKEN
state:
  store: file
  path: state/switchyard.json
certs_dir: certs
services:
  - name: go-auth
    hosts: [auth.example.com, "*.auth.example.com"]
    paths: ["/"]
    balance: round_robin
    sticky: none
    health_check:
      path: /health
      port: 9000
      interval: 2000
      response_timeout: 2000
      healthy_threshold: 2
      unhealthy_threshold: 3
      expect_status: "200-399"
      expect_body: "OK"
    stacks:
      blue:  { targets: ["10.0.0.11:9000", "10.0.0.12:9000"] }
      green: { targets: ["10.0.0.21:9000"] }
    active: blue
`;

function problems(text: string): readonly string[] {
  try {
    parseConfig(text);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('config was accepted');
}

describe('parseConfig', () => {
  it('accepts the SPEC example with defaults filled in', () => {
    const config = parseConfig(SPEC_EXAMPLE);
    expect(config.services[0]?.health_check?.expect_status).toEqual([200, 399]);
    expect(config.listeners[2]?.route_to).toBe('standby');
    expect(config.upstream.idle_timeout).toBe(4000);
  });

  it('accepts the rancher-compose health_check block as it is', () => {
    const text = SPEC_EXAMPLE.replace(
      /health_check:[\s\S]*?expect_body: "OK"\n/,
      `health_check:
      port: 9000
      interval: 2000
      unhealthy_threshold: 3
      request_line: GET /health HTTP/1.0
      healthy_threshold: 2
      response_timeout: 2000
`,
    );
    expect(parseConfig(text).services[0]?.health_check?.request_line).toBe('GET /health HTTP/1.0');
  });

  it('lists every error by its path', () => {
    const bad = SPEC_EXAMPLE.replace('"10.0.0.12:9000"', '"not a target"')
      .replace('interval: 2000', 'interval: soon')
      .replace('balance: round_robin', 'balance: fastest');
    const found = problems(bad);
    expect(found).toContain('services[0].stacks.blue.targets[1]: must be host:port');
    expect(found.some((p) => p.startsWith('services[0].health_check.interval: must be a duration'))).toBe(true);
    expect(found.some((p) => p.startsWith('services[0].balance:'))).toBe(true);
  });

  it('rejects unknown keys, duplicate services and an active stack that does not exist', () => {
    expect(problems(SPEC_EXAMPLE.replace('certs_dir: certs', 'certs_dir: certs\nsurprise: 1')).some((p) => p.includes('surprise'))).toBe(true);
    expect(problems(SPEC_EXAMPLE.replace('active: blue', 'active: purple'))).toContain('services[0].active: must name one of the stacks (blue, green)');
    const twice = SPEC_EXAMPLE + SPEC_EXAMPLE.slice(SPEC_EXAMPLE.indexOf('  - name: go-auth')).replace('auth.example.com', 'other.example.com');
    expect(problems(twice.replace(/^services:\n/m, 'services:\n')).some((p) => p.includes('duplicate service'))).toBe(true);
  });

  it('reports YAML syntax errors', () => {
    expect(problems('listeners: [')[0]).toMatch(/^\(yaml\)/);
  });
});

describe('parseDuration', () => {
  it('reads integers as ms and unit strings', () => {
    expect(parseDuration(250)).toBe(250);
    expect(parseDuration('2s')).toBe(2000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1m')).toBe(60_000);
    expect(parseDuration('soon')).toBeUndefined();
    expect(parseDuration(-1)).toBeUndefined();
  });
});
