import { describe, expect, it } from 'vitest';
import { normalizeHostName, wildcardBase } from '../../src/net/host-name.js';
import { hostPart, portColon, splitHostPort, unbracket } from '../../src/net/host-port.js';
import { HostRouter } from '../../src/routing/host-router.js';
import { SniIndex } from '../../src/tls/sni-index.js';

describe('host-port', () => {
  describe('#splitHostPort', () => {
    it('splits names, IPv4 and bracketed IPv6 at the port colon', () => {
      expect(splitHostPort('example.com:80')).toEqual({ host: 'example.com', port: 80 });
      expect(splitHostPort('127.0.0.1:9901')).toEqual({ host: '127.0.0.1', port: 9901 });
      expect(splitHostPort('[::1]:9901')).toEqual({ host: '::1', port: 9901 });
    });

    it('gives NaN as the port when there is none', () => {
      expect(splitHostPort('[::1]').host).toBe('::1');
      expect(splitHostPort('[::1]').port).toBeNaN();
      expect(splitHostPort('example.com').port).toBeNaN();
    });
  });

  describe('#hostPart', () => {
    it('drops the port and keeps IPv6 brackets', () => {
      expect(hostPart('a.example:8080')).toBe('a.example');
      expect(hostPart('[2001:db8::1]:443')).toBe('[2001:db8::1]');
      expect(hostPart('[2001:db8::1]')).toBe('[2001:db8::1]');
      expect(hostPart('a.example')).toBe('a.example');
    });
  });

  it('finds no port colon inside brackets', () => {
    expect(portColon('[::1]')).toBe(-1);
    expect(portColon('[::1]:1')).toBe(5);
    expect(unbracket('[::1]')).toBe('::1');
    expect(unbracket('::1')).toBe('::1');
  });
});

describe('host-name', () => {
  it('lower-cases and drops one trailing dot', () => {
    expect(normalizeHostName('WWW.Example.com.')).toBe('www.example.com');
    expect(normalizeHostName('plain')).toBe('plain');
  });

  it('gives the base of a leading wildcard only', () => {
    expect(wildcardBase('*.example.com')).toBe('example.com');
    expect(wildcardBase('example.com')).toBeUndefined();
    expect(wildcardBase('a.*.example.com')).toBeUndefined();
  });

  it('lets routing wildcards cover any depth and certificate wildcards exactly one label', () => {
    const router = new HostRouter<string>();
    router.add('*.example.com', '/', 'route');
    const sni = new SniIndex<{ hosts: string[] }>();
    const cert = { hosts: ['*.example.com'] };
    sni.add(cert);
    expect(router.match('a.example.com', '/')).toBe('route');
    expect(sni.lookup('a.example.com')).toBe(cert);
    expect(router.match('a.b.example.com', '/')).toBe('route');
    expect(sni.lookup('a.b.example.com')).toBeUndefined();
    expect(router.match('example.com', '/')).toBeUndefined();
    expect(sni.lookup('example.com')).toBeUndefined();
  });
});
