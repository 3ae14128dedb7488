import { describe, expect, it } from 'vitest';
import { normalizeAuthority, readH2RequestHead } from '../../src/proxy/h2-head.js';

const listener = { proto: 'https', port: '443' } as const;
const GET = [':method', 'GET', ':scheme', 'https', ':path', '/'];

/** The upstream header pairs of a head, as [name, value] tuples. */
function pairs(headers: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < headers.length; i += 2) out.push([headers[i] as string, headers[i + 1] as string]);
  return out;
}

describe('readH2RequestHead', () => {
  it('drops pseudo-header fields and puts :authority first as Host', () => {
    const head = readH2RequestHead([...GET, ':authority', 'a.test', 'accept', '*/*'], true, '10.0.0.1', listener, false);
    expect(head.refusal).toBeUndefined();
    expect(head.host).toBe('a.test');
    expect(head.hasBody).toBe(false);
    expect(pairs(head.headers).slice(0, 2)).toEqual([
      ['host', 'a.test'],
      ['accept', '*/*'],
    ]);
    expect(head.headers.some((name) => name.startsWith(':'))).toBe(false);
  });

  it('takes Host when there is no :authority, and refuses a request with neither', () => {
    expect(readH2RequestHead([...GET, 'host', 'b.test'], true, undefined, listener, false).host).toBe('b.test');
    expect(readH2RequestHead(GET, true, undefined, listener, false).refusal?.code).toBe('BAD_REQUEST');
  });

  it('refuses a Host naming another origin than :authority, or two Hosts (RFC 9113 §8.3.1)', () => {
    expect(readH2RequestHead([...GET, ':authority', 'a.test', 'host', 'b.test'], true, undefined, listener, false).refusal?.message).toMatch(/differs/);
    expect(readH2RequestHead([...GET, ':authority', 'a.test', 'host', 'a.test', 'host', 'a.test'], true, undefined, listener, false).refusal?.code).toBe(
      'BAD_REQUEST',
    );
    const same = readH2RequestHead([...GET, ':authority', 'A.Test:443', 'host', 'a.test'], true, undefined, listener, false);
    expect(same.refusal).toBeUndefined();
    expect(pairs(same.headers).filter(([n]) => n === 'host')).toEqual([['host', 'A.Test:443']]);
  });

  it('refuses an invalid :authority as an invalid Host', () => {
    expect(readH2RequestHead([...GET, ':authority', 'user@a.test'], true, undefined, listener, false).refusal?.code).toBe('BAD_REQUEST');
  });

  it('joins Cookie fields with "; " (RFC 9113 §8.2.3) and reports the joined value', () => {
    const head = readH2RequestHead([...GET, ':authority', 'a', 'cookie', 'a=1', 'x', 'y', 'cookie', 'b=2'], true, undefined, listener, false);
    expect(pairs(head.headers).filter(([n]) => n === 'cookie')).toEqual([['cookie', 'a=1; b=2']]);
    expect(head.cookie).toBe('a=1; b=2');
  });

  it('frames a body: Content-Length as sent, none → chunked for HTTP/1.1, END_STREAM on HEADERS → no body', () => {
    const post = [':method', 'POST', ':scheme', 'https', ':path', '/', ':authority', 'a'];
    const withLength = readH2RequestHead([...post, 'content-length', '5'], false, undefined, listener, false);
    expect(withLength.hasBody).toBe(true);
    expect(withLength.headers).not.toContain('transfer-encoding');
    const streamed = readH2RequestHead(post, false, undefined, listener, false);
    expect(streamed.hasBody).toBe(true);
    expect(pairs(streamed.headers)).toContainEqual(['transfer-encoding', 'chunked']);
    expect(readH2RequestHead(post, true, undefined, listener, false).hasBody).toBe(false);
  });

  it('adds X-Forwarded-* as for HTTP/1.1', () => {
    const head = readH2RequestHead([...GET, ':authority', 'a.test'], true, '10.0.0.1', listener, false);
    expect(pairs(head.headers)).toEqual(
      expect.arrayContaining([
        ['X-Forwarded-For', '10.0.0.1'],
        ['X-Forwarded-Proto', 'https'],
        ['X-Forwarded-Host', 'a.test'],
        ['X-Forwarded-Port', '443'],
      ]),
    );
  });
});

describe('normalizeAuthority', () => {
  it('folds case and drops an empty or default port for the scheme', () => {
    expect(normalizeAuthority('A.Test:443', 'https')).toBe('a.test');
    expect(normalizeAuthority('a.test:', 'https')).toBe('a.test');
    expect(normalizeAuthority('a.test:80', 'http')).toBe('a.test');
    expect(normalizeAuthority('a.test:80', 'https')).toBe('a.test:80');
    expect(normalizeAuthority('[::1]:443', 'https')).toBe('[::1]');
    expect(normalizeAuthority('[::1]', 'https')).toBe('[::1]');
  });
});
