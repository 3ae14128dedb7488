import { describe, expect, it } from 'vitest';
import { MAX_HEADER_FIELDS, readRequestHead, responseHeaders, trailerPairs, transferCodingRefusal } from '../../src/proxy/headers.js';

const LISTENER = { proto: 'https', port: '8443' } as const;

/** readRequestHead over `raw` from client 10.0.0.1. */
const read = (raw: string[], authority?: string, keepUnderscores?: boolean) => readRequestHead(raw, '10.0.0.1', LISTENER, authority, keepUnderscores);

/** The value of `name` (case-insensitive) in a flat header list, all occurrences. */
const values = (flat: readonly string[], name: string): string[] =>
  flat.flatMap((item, i) => (i % 2 === 0 && item.toLowerCase() === name.toLowerCase() ? [flat[i + 1] as string] : []));

describe('readRequestHead', () => {
  it('keeps the client header case and order, Host included, and appends the X-Forwarded set', () => {
    const head = read(['Host', 'Example.com', 'accept', '*/*', 'X-Custom', 'A']);
    expect(head.headers).toEqual([
      'Host',
      'Example.com',
      'accept',
      '*/*',
      'X-Custom',
      'A',
      'X-Forwarded-For',
      '10.0.0.1',
      'X-Forwarded-Proto',
      'https',
      'X-Forwarded-Host',
      'Example.com',
      'X-Forwarded-Port',
      '8443',
    ]);
    expect(head.host).toBe('Example.com');
    expect(head.refusal).toBeUndefined();
  });

  it('drops hop-by-hop fields, fields named in Connection (never Host), and Expect', () => {
    const head = read([
      'Host',
      'a',
      'Connection',
      'keep-alive, X-Hop, host',
      'Keep-Alive',
      'timeout=5',
      'TE',
      'trailers',
      'Trailer',
      'X-T',
      'Upgrade',
      'h2c',
      'Proxy-Connection',
      'keep-alive',
      'Proxy-Authorization',
      'Basic eA==',
      'Expect',
      '100-continue',
      'X-Hop',
      'secret',
      'X-Kept',
      '1',
    ]);
    const names = head.headers.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    for (const hop of ['connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-connection', 'proxy-authorization', 'expect', 'x-hop']) {
      expect(names).not.toContain(hop);
    }
    expect(values(head.headers, 'host')).toEqual(['a']);
    expect(values(head.headers, 'x-kept')).toEqual(['1']);
  });

  it("appends the client address to the client's X-Forwarded-For and replaces its -Proto/-Host/-Port", () => {
    const head = read([
      'Host',
      'a',
      'X-Forwarded-For',
      '1.1.1.1',
      'x-forwarded-for',
      '2.2.2.2',
      'X-Forwarded-Proto',
      'gopher',
      'X-Forwarded-Host',
      'evil',
      'X-Forwarded-Port',
      '1',
    ]);
    expect(values(head.headers, 'x-forwarded-for')).toEqual(['1.1.1.1, 2.2.2.2, 10.0.0.1']);
    expect(values(head.headers, 'x-forwarded-proto')).toEqual(['https']);
    expect(values(head.headers, 'x-forwarded-host')).toEqual(['a']);
    expect(values(head.headers, 'x-forwarded-port')).toEqual(['8443']);
  });

  it('reports a body for a non-zero Content-Length or any Transfer-Encoding', () => {
    expect(read(['Host', 'a']).hasBody).toBe(false);
    expect(read(['Host', 'a', 'Content-Length', '0']).hasBody).toBe(false);
    expect(read(['Host', 'a', 'Content-Length', '5']).hasBody).toBe(true);
    expect(read(['Host', 'a', 'Transfer-Encoding', 'chunked']).hasBody).toBe(true);
  });

  it('joins Cookie lines for sticky routing and forwards them as sent', () => {
    const head = read(['Host', 'a', 'Cookie', 'a=1', 'Cookie', 'switchyard.web=green']);
    expect(head.cookie).toBe('a=1; switchyard.web=green');
    expect(values(head.headers, 'cookie')).toEqual(['a=1', 'switchyard.web=green']);
  });

  describe('Host', () => {
    it('refuses more than one Host line with 400', () => {
      expect(read(['Host', 'a', 'Host', 'b']).refusal?.code).toBe('BAD_REQUEST');
    });

    it.each(['', 'a b', 'x/../y', 'u@a', 'a:b', 'a\\b', '[::1'])('refuses Host %j with 400', (host) => {
      expect(read(['Host', host]).refusal).toEqual({ code: 'BAD_REQUEST', message: expect.stringContaining('Host') });
    });

    it('replaces the Host value (keeping its name) and X-Forwarded-Host with an absolute-form authority', () => {
      const head = read(['HOST', 'a', 'Accept', '*/*'], 'other.test:8080');
      expect(head.host).toBe('other.test:8080');
      expect(head.headers.slice(0, 2)).toEqual(['HOST', 'other.test:8080']);
      expect(values(head.headers, 'x-forwarded-host')).toEqual(['other.test:8080']);
    });
  });

  describe('header field count', () => {
    const fields = (n: number): string[] => ['Host', 'a', ...Array.from({ length: n - 1 }, (_, i) => [`X-${i}`, '1']).flat()];

    it(`takes ${MAX_HEADER_FIELDS} fields and refuses one more with 431`, () => {
      expect(read(fields(MAX_HEADER_FIELDS)).refusal).toBeUndefined();
      expect(read(fields(MAX_HEADER_FIELDS + 1)).refusal?.code).toBe('HEADERS_TOO_LARGE');
    });
  });

  describe('underscores in field names', () => {
    const raw = ['Host', 'a', 'X_Forwarded_For', '6.6.6.6', 'my_header', '1', 'X-Dash', '2'];

    it('drops them by default (CGI would read X_Forwarded_For as X-Forwarded-For)', () => {
      const head = read(raw);
      expect(values(head.headers, 'x_forwarded_for')).toEqual([]);
      expect(values(head.headers, 'my_header')).toEqual([]);
      expect(values(head.headers, 'x-dash')).toEqual(['2']);
      expect(values(head.headers, 'x-forwarded-for')).toEqual(['10.0.0.1']);
    });

    it('keeps them when asked', () => {
      const head = read(raw, undefined, true);
      expect(values(head.headers, 'x_forwarded_for')).toEqual(['6.6.6.6']);
      expect(values(head.headers, 'my_header')).toEqual(['1']);
    });
  });

  describe('Transfer-Encoding', () => {
    it('accepts chunked alone, in any case', () => {
      expect(read(['Host', 'a', 'Transfer-Encoding', 'chunked']).refusal).toBeUndefined();
      expect(read(['Host', 'a', 'Transfer-Encoding', 'CHUNKED']).refusal).toBeUndefined();
    });

    it('considers all its lines together', () => {
      expect(read(['Host', 'a', 'Transfer-Encoding', 'gzip', 'Transfer-Encoding', 'chunked']).refusal?.code).toBe('NOT_IMPLEMENTED');
      expect(read(['Host', 'a', 'Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'chunked']).refusal?.code).toBe('BAD_REQUEST');
    });
  });
});

describe('transferCodingRefusal', () => {
  it.each([
    ['chunked', undefined],
    ['Chunked', undefined],
    ['gzip, chunked', 'NOT_IMPLEMENTED'],
    ['gzip,chunked', 'NOT_IMPLEMENTED'],
    ['identity', 'BAD_REQUEST'],
    ['xchunked', 'BAD_REQUEST'],
    ['gzip', 'BAD_REQUEST'],
    ['chunked, gzip', 'BAD_REQUEST'],
    ['chunked, chunked', 'BAD_REQUEST'],
    ['', 'BAD_REQUEST'],
  ])('%j → %s', (value, code) => {
    expect(transferCodingRefusal(value)?.code).toBe(code);
  });
});

describe('responseHeaders', () => {
  it('drops hop-by-hop fields and Transfer-Encoding (Node frames the client response) and those named in Connection', () => {
    const out = responseHeaders(
      [
        'Content-Type',
        'text/plain',
        'Connection',
        'keep-alive, X-Internal',
        'Keep-Alive',
        'timeout=5',
        'Transfer-Encoding',
        'chunked',
        'Upgrade',
        'h2c',
        'Trailer',
        'X-T',
        'Proxy-Authenticate',
        'Basic',
        'Proxy-Connection',
        'close',
        'X-Internal',
        'secret',
        'Set-Cookie',
        'a=1',
        'Set-Cookie',
        'b=2',
      ],
      undefined,
    );
    expect(out).toEqual(['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
  });

  it('appends the listener and sticky headers', () => {
    expect(responseHeaders(['A', '1'], ['Strict-Transport-Security', 'max-age=1'])).toEqual(['A', '1', 'Strict-Transport-Security', 'max-age=1']);
  });
});

describe('trailerPairs', () => {
  it('returns trailer fields as pairs without hop-by-hop ones', () => {
    expect(trailerPairs(['X-Checksum', 'abc', 'Connection', 'close', 'Server-Timing', 'db;dur=5'])).toEqual([
      ['X-Checksum', 'abc'],
      ['Server-Timing', 'db;dur=5'],
    ]);
  });
});
