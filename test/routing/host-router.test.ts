import { describe, expect, it } from 'vitest';
import { HostRouter, normalizeHost } from '../../src/routing/host-router.js';

describe('HostRouter', () => {
  it('prefers the exact host, then the longest wildcard, then the default', () => {
    const r = new HostRouter<string>();
    r.add('app.example.com', '/', 'exact');
    r.add('*.example.com', '/', 'wild');
    r.add('*.eu.example.com', '/', 'wild-eu');
    r.add(undefined, '/', 'default');
    expect(r.match('app.example.com', '/')).toBe('exact');
    expect(r.match('other.example.com', '/')).toBe('wild');
    expect(r.match('a.b.c.example.com', '/x')).toBe('wild');
    expect(r.match('x.eu.example.com', '/')).toBe('wild-eu');
    expect(r.match('example.com', '/')).toBe('default');
    expect(r.match('unknown.org', '/')).toBe('default');
    expect(r.match(undefined, '/')).toBe('default');
  });

  it('ignores the port and case of the Host header', () => {
    const r = new HostRouter<string>();
    r.add('app.example.com', '/', 'exact');
    expect(r.match('APP.Example.com:8080', '/')).toBe('exact');
    expect(normalizeHost('[::1]:80')).toBe('[::1]');
    expect(normalizeHost('Host.Example.')).toBe('host.example');
  });

  it('picks the longest path prefix within a host', () => {
    const r = new HostRouter<string>();
    r.add('h', '/', 'root');
    r.add('h', '/api/v2', 'v2');
    r.add('h', '/api', 'api');
    expect(r.match('h', '/api/v2/x')).toBe('v2');
    expect(r.match('h', '/api/v1')).toBe('api');
    expect(r.match('h', '/other')).toBe('root');
  });

  it('answers undefined when nothing matches and there is no default', () => {
    const r = new HostRouter<string>();
    r.add('h', '/api', 'api');
    r.add('*.w.com', '/', 'wild');
    expect(r.match('nope', '/')).toBeUndefined();
    expect(r.match('h', '/other')).toBeUndefined();
    expect(r.match('w.com', '/')).toBeUndefined();
    expect(r.match(undefined, '/')).toBeUndefined();
  });
});
