import { describe, expect, it } from 'vitest';
import { h2Fields } from '../../src/proxy/h2-response.js';

describe('h2Fields', () => {
  it('lower-cases names, keeps repeated fields as lists and drops connection-specific ones', () => {
    const flat = [
      'Content-Type',
      'text/plain',
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
      'Connection',
      'close',
      'Keep-Alive',
      'timeout=5',
      'Transfer-Encoding',
      'chunked',
    ];
    expect(h2Fields([...flat, 'Upgrade', 'h2c', 'Proxy-Connection', 'x', 'HTTP2-Settings', 'x', 'TE', 'trailers'])).toEqual({
      'content-type': 'text/plain',
      'set-cookie': ['a=1', 'b=2'],
    });
  });

  it('keeps the first value of a single-value field (Node throws on a second)', () => {
    expect(h2Fields(['Content-Type', 'text/plain', 'content-type', 'text/html', 'ETag', '"1"', 'etag', '"2"'])).toEqual({
      'content-type': 'text/plain',
      etag: '"1"',
    });
  });

  it('takes pairs (trailers) and objects (switchyard’s own answers)', () => {
    expect(
      h2Fields([
        ['X-Checksum', 'abc'],
        ['Connection', 'close'],
      ]),
    ).toEqual({ 'x-checksum': 'abc' });
    expect(h2Fields({ 'content-type': 'application/json', 'content-length': 10, connection: 'close', 'x-list': ['a', 'b'] })).toEqual({
      'content-type': 'application/json',
      'content-length': '10',
      'x-list': ['a', 'b'],
    });
    expect(h2Fields(undefined)).toEqual({});
  });
});
