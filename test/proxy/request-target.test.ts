import { describe, expect, it } from 'vitest';
import { ASTERISK, isValidHost, parseRequestTarget } from '../../src/proxy/request-target.js';

describe('isValidHost', () => {
  it.each([
    'a',
    'example.com',
    'Example.COM',
    'example.com.',
    'example.com:8080',
    'example.com:65535',
    'example.com:00080',
    'example.com:',
    '127.0.0.1',
    '127.0.0.1:80',
    '[::1]',
    '[::1]:8443',
    '[2001:db8::7]',
    '[v1.fe80::a+en1]',
    'xn--bcher-kva.example',
    'a_b.example',
    'a%41b',
    "a!$&'()*+,;=b",
  ])('accepts %j', (host) => {
    expect(isValidHost(host)).toBe(true);
  });

  it.each([
    '',
    ' ',
    'a b',
    'x/../y',
    'a/b',
    'user@a',
    'a\\b',
    'a:b',
    'a:80:80',
    'a:99999',
    'a:65536',
    ':80',
    '[::1',
    '[]',
    '[::1]x',
    '[::1]:x',
    '[::1/]',
    'a%4',
    'a%zz',
    'a?b',
    'a#b',
    'ä.example',
    'a\tb',
  ])('rejects %j', (host) => {
    expect(isValidHost(host)).toBe(false);
  });
});

describe('parseRequestTarget', () => {
  it('keeps origin-form as is', () => {
    expect(parseRequestTarget('/a/b?c=1', 'GET')).toEqual({ path: '/a/b?c=1', authority: undefined });
  });

  it('splits absolute-form into the authority and an origin-form path', () => {
    expect(parseRequestTarget('http://other.test/x?y=1', 'GET')).toEqual({ path: '/x?y=1', authority: 'other.test' });
    expect(parseRequestTarget('https://other.test:8443/', 'POST')).toEqual({ path: '/', authority: 'other.test:8443' });
    expect(parseRequestTarget('HTTP://Other.Test', 'GET')).toEqual({ path: '/', authority: 'Other.Test' });
    expect(parseRequestTarget('http://other.test?q', 'GET')).toEqual({ path: '/?q', authority: 'other.test' });
    expect(parseRequestTarget('http://[::1]:8080/p', 'GET')).toEqual({ path: '/p', authority: '[::1]:8080' });
  });

  it('takes * for OPTIONS only', () => {
    expect(parseRequestTarget('*', 'OPTIONS')).toBe(ASTERISK);
    expect(parseRequestTarget('*', 'GET')).toBeUndefined();
  });

  it.each([
    ['another scheme', 'ftp://other.test/'],
    ['no scheme', 'other.test/x'],
    ['userinfo', 'http://user:pw@other.test/'],
    ['an empty authority', 'http:///x'],
    ['an invalid authority', 'http://a b/'],
    ['authority-form', 'other.test:443'],
  ])('rejects %s', (_name, url) => {
    expect(parseRequestTarget(url, 'GET')).toBeUndefined();
  });
});
