import { describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from '../../src/config/load.js';
import { checkTarget, targetProblem } from '../../src/config/target-address.js';

const configWith = (target: string) => ({
  listeners: [{ name: 'http', port: 0 }],
  services: [{ name: 'web', stacks: { blue: { targets: [target] } } }],
});

describe('checkTarget', () => {
  it.each([
    ['10.0.0.11:9000', '10.0.0.11', 9000],
    ['localhost:1', 'localhost', 1],
    ['api-1.internal.example.com:65535', 'api-1.internal.example.com', 65535],
    ['blue:80', 'blue', 80],
    ['[::1]:8080', '::1', 8080],
    ['[2001:db8::7]:443', '2001:db8::7', 443],
    ['[::ffff:10.0.0.1]:80', '::ffff:10.0.0.1', 80],
  ])('accepts %s', (value, host, port) => {
    expect(checkTarget(value)).toEqual({ ok: true, host, port });
  });

  it.each([
    ['a:99999', 'port "99999" must be an integer 1-65535'],
    ['a:65536', 'port "65536" must be an integer 1-65535'],
    ['a:0', 'port "0" must be an integer 1-65535'],
    ['a:080', 'port "080" must be an integer 1-65535'],
    ['a:', 'port "" must be an integer 1-65535'],
    ['a:8o', 'port "8o" must be an integer 1-65535'],
    ['a:-1', 'port "-1" must be an integer 1-65535'],
    ['a', 'must be host:port'],
    [':80', 'host is empty'],
    ['::1:80', 'an IPv6 address must be in brackets, e.g. "[::1]:8080"'],
    ['[10.0.0.1]:80', '"[10.0.0.1]" is not an IPv6 address'],
    ['[::g]:80', '"[::g]" is not an IPv6 address'],
    ['1.2.3.999:80', 'host "1.2.3.999" is not a valid IPv4 address'],
    ['1.2.3:80', 'host "1.2.3" is not a valid IPv4 address'],
    ['bad_host:80', 'not a host name'],
    ['-a:80', 'not a host name'],
    ['a-:80', 'not a host name'],
    ['a..b:80', 'not a host name'],
    ['a.b.:80', 'not a host name'],
    ['a b:80', 'not a host name'],
    [`${'a'.repeat(64)}:80`, 'not a host name'],
    [`${'a.'.repeat(127)}ab:80`, 'longer than 253 characters'],
  ])('refuses %s', (value, problem) => {
    expect(targetProblem(value)).toContain(problem);
  });

  it('refuses anything but a string', () => {
    expect(targetProblem(80)).toBe('must be a string "host:port"');
    expect(targetProblem(null)).toBe('must be a string "host:port"');
  });
});

describe('the config target rule', () => {
  it('is checkTarget: the config refuses what the API and the state file refuse, by path', () => {
    for (const [value, problem] of [
      ['a:99999', 'port "99999" must be an integer 1-65535'],
      ['127.0.0.1:0', 'port "0" must be an integer 1-65535'],
    ] as const) {
      let error: unknown;
      try {
        validateConfig(configWith(value));
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([`services[0].stacks.blue.targets[0]: ${problem}`]);
    }
    expect(validateConfig(configWith('[::1]:8080')).services[0]?.stacks.blue?.targets).toEqual(['[::1]:8080']);
  });
});
