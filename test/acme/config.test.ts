import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';

const BASE = `
listeners: [{ name: http, port: 80 }, { name: https, port: 443, tls: true }]
services: [{ name: app, stacks: { blue: { targets: ["10.0.0.1:9000"] } } }]
`;

function problems(text: string): readonly string[] {
  try {
    parseConfig(BASE + text);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('config: acme and certificates', () => {
  it('reads the SPEC example with defaults (renew_before 30d, min_renew_interval 1h)', () => {
    const config = parseConfig(`${BASE}
acme: { directory: "https://acme-v02.api.letsencrypt.org/directory", email: ops@example.com }
certificates: [{ name: web, hosts: [a.example.com, WWW.a.example.com], acme: true }]
`);
    expect(config.acme).toEqual({
      directory: 'https://acme-v02.api.letsencrypt.org/directory',
      email: 'ops@example.com',
      renew_before: 30 * 86_400_000,
      min_renew_interval: 3_600_000,
    });
    expect(config.certificates).toEqual([{ name: 'web', hosts: ['a.example.com', 'www.a.example.com'], acme: true }]);
    expect(parseConfig(`${BASE}acme: { directory: "https://ca.test/dir", renew_before: 10d, ca_file: /etc/ca.pem }`).acme?.renew_before).toBe(10 * 86_400_000);
  });

  it('has no certificates and no acme by default', () => {
    const config = parseConfig(BASE);
    expect(config.acme).toBeUndefined();
    expect(config.certificates).toEqual([]);
  });

  it('lists every problem by path', () => {
    expect(problems('certificates: [{ name: web, hosts: [a.example.com], acme: true }]')).toEqual([
      'acme: is required when certificates have acme: true (at least acme.directory)',
    ]);
    expect(
      problems(`
acme: { directory: "ftp://ca.test", renew_before: soon }
certificates:
  - { name: web, hosts: ["*.example.com", 10.0.0.1], acme: true }
  - { name: web, hosts: [], acme: false }
`),
    ).toEqual([
      'acme.directory: must be the http(s) URL of an ACME directory',
      'acme.renew_before: must be a duration (integer ms or e.g. "2s")',
      'certificates[0].hosts[0]: "*.example.com": wildcard names need the dns-01 challenge; switchyard answers http-01 only',
      'certificates[0].hosts[1]: "10.0.0.1": IP addresses are not requested over ACME; use a host name',
      'certificates[1].hosts: Too small: expected array to have >=1 items',
      'certificates[1].acme: must be true: only ACME certificates are declared in config; upload others with `switchyard cert add`',
    ]);
    expect(
      problems(
        'acme: { directory: "https://ca.test/dir" }\ncertificates: [{ name: web, hosts: [a.example.com], acme: true }, { name: web, hosts: [b.example.com], acme: true }]',
      ),
    ).toEqual(['certificates[1].name: duplicate certificate "web"']);
  });
});
