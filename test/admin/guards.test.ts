import { describe, expect, it } from 'vitest';
import { foreignOrigin, hostOfHeader, isLoopbackHost, parseIfMatch, tokenMatches } from '../../src/admin/guards.js';

describe('guards', () => {
  describe('#isLoopbackHost', () => {
    it.each(['localhost', 'LOCALHOST', 'app.localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1'])('accepts %s', (host) => {
      expect(isLoopbackHost(host)).toBe(true);
    });

    it.each([
      'example.com',
      'localhost.example.com',
      'mylocalhost',
      '128.0.0.1',
      '10.0.0.1',
      '0.0.0.0',
      '::',
      '::2',
      '::ffff:10.0.0.1',
      '',
      '127.0.0.1.nip.io',
      '[::1',
    ])('refuses %j', (host) => {
      expect(isLoopbackHost(host)).toBe(false);
    });
  });

  describe('#hostOfHeader', () => {
    it.each([
      ['localhost', 'localhost'],
      ['localhost:9901', 'localhost'],
      ['127.0.0.1:80', '127.0.0.1'],
      ['localhost:', 'localhost'],
      ['[::1]', '::1'],
      ['[::1]:9901', '::1'],
      ['example.com:443', 'example.com'],
    ])('takes %j to %j', (value, host) => {
      expect(hostOfHeader(value)).toBe(host);
    });

    it.each(['[::1]evil.example', '[::1]:80evil', '[::1', 'localhost:80x', 'evil.example:localhost'])('returns the malformed %j whole', (value) => {
      expect(hostOfHeader(value)).toBe(value);
      expect(isLoopbackHost(hostOfHeader(value))).toBe(false);
    });
  });

  describe('#foreignOrigin', () => {
    it.each([
      ['localhost:9901', undefined],
      ['127.0.0.1:9901', 'http://localhost:3000'],
      ['[::1]:9901', 'http://[::1]:9901'],
      ['localhost', 'https://ui.localhost'],
    ])('allows Host %j with Origin %j', (host, origin) => {
      expect(foreignOrigin(host, origin)).toBeUndefined();
    });

    it.each([
      [undefined, undefined, /Host "" is not a loopback name/],
      ['evil.example', undefined, /Host "evil.example" is not a loopback name/],
      ['[::1]evil.example', undefined, /not a loopback name/],
      ['localhost', 'http://evil.example', /Origin "http:\/\/evil.example" is not a loopback origin/],
      ['localhost', 'http://localhost.evil.example', /is not a loopback origin/],
      ['localhost', 'null', /Origin "null" is refused/],
      ['localhost', 'not a url', /Origin "not a url" is not a URL/],
    ])('refuses Host %j with Origin %j', (host, origin, reason) => {
      expect(foreignOrigin(host, origin)).toMatch(reason);
    });
  });

  describe('#tokenMatches', () => {
    it('accepts the token after the Bearer scheme, whatever its case', () => {
      expect(tokenMatches('Bearer s3cret', 's3cret')).toBe(true);
      expect(tokenMatches('bearer s3cret', 's3cret')).toBe(true);
      expect(tokenMatches('BEARER  s3cret', 's3cret')).toBe(true);
    });

    it.each([
      ['no header', undefined],
      ['an empty header', ''],
      ['the scheme alone', 'Bearer '],
      ['a wrong token', 'Bearer wrong'],
      ['a prefix of the token', 'Bearer s3cre'],
      ['the token plus more', 'Bearer s3crets'],
      ['the token without a scheme', 's3cret'],
      ['another scheme', 'Basic s3cret'],
      ['no space after the scheme', 'Bearers3cret'],
    ])('refuses %s', (_what, header) => {
      expect(tokenMatches(header, 's3cret')).toBe(false);
    });
  });

  describe('#parseIfMatch', () => {
    it.each([
      ['"7"', 7],
      ['W/"7"', 7],
      ['7', 7],
      [' "12" ', 12],
      ['*', undefined],
      [undefined, undefined],
    ])('reads %j as %j', (value, generation) => {
      expect(parseIfMatch(value)).toBe(generation);
    });

    it.each(['"7', '7"', '"a"', '"1", "2"', '', 'W/', '-1', '"7"x'])('reads %j as naming no generation (NaN)', (value) => {
      expect(parseIfMatch(value)).toBeNaN();
    });
  });
});
