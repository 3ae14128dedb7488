import { describe, expect, it } from 'vitest';
import { classifyUpstreamError, failureResponse, isTargetFault, MAX_RETRIES, shouldRetry, type RetryFacts } from '../../src/proxy/upstream-errors.js';

const facts = (over: Partial<RetryFacts>): RetryFacts => ({
  kind: 'reset',
  method: 'GET',
  retries: 0,
  responded: false,
  bodySent: false,
  reusedSocket: false,
  ...over,
});

describe('shouldRetry', () => {
  it('retries a refused connection for any method', () => {
    expect(shouldRetry(facts({ kind: 'connect', method: 'POST' }))).toBe(true);
  });

  it('retries a reset for idempotent methods, and for any method on a reused socket (the keep-alive race)', () => {
    expect(shouldRetry(facts({ kind: 'reset', method: 'GET' }))).toBe(true);
    expect(shouldRetry(facts({ kind: 'reset', method: 'POST' }))).toBe(false);
    expect(shouldRetry(facts({ kind: 'reset', method: 'POST', reusedSocket: true }))).toBe(true);
  });

  it('retries a response timeout only for idempotent methods', () => {
    expect(shouldRetry(facts({ kind: 'timeout', method: 'GET' }))).toBe(true);
    expect(shouldRetry(facts({ kind: 'timeout', method: 'POST' }))).toBe(false);
  });

  it('never retries broken framing, once a response began, once a body streamed, or past the limit', () => {
    expect(shouldRetry(facts({ kind: 'protocol' }))).toBe(false);
    expect(shouldRetry(facts({ kind: 'connect', responded: true }))).toBe(false);
    expect(shouldRetry(facts({ kind: 'connect', bodySent: true }))).toBe(false);
    expect(shouldRetry(facts({ kind: 'connect', retries: MAX_RETRIES }))).toBe(false);
  });
});

describe('isTargetFault', () => {
  it('blames the target for everything but a reset of a reused pooled socket', () => {
    expect(isTargetFault('connect', false)).toBe(true);
    expect(isTargetFault('timeout', true)).toBe(true);
    expect(isTargetFault('protocol', true)).toBe(true);
    expect(isTargetFault('reset', false)).toBe(true);
    expect(isTargetFault('reset', true)).toBe(false);
  });
});

describe('classifyUpstreamError and failureResponse', () => {
  it('maps errors to kinds and kinds to 502/504 with their codes', () => {
    expect(classifyUpstreamError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), true)).toBe('connect');
    expect(classifyUpstreamError(Object.assign(new Error('x'), { code: 'HPE_INVALID_CONSTANT' }), true)).toBe('protocol');
    expect(classifyUpstreamError(Object.assign(new Error('x'), { code: 'ECONNRESET' }), true)).toBe('reset');
    expect(classifyUpstreamError(Object.assign(new Error('x'), { code: 'ECONNRESET' }), false)).toBe('connect');
    expect(failureResponse('timeout')).toEqual({ code: 'UPSTREAM_TIMEOUT', status: 504 });
    for (const kind of ['connect', 'reset', 'protocol', '5xx'] as const) expect(failureResponse(kind)).toEqual({ code: 'UPSTREAM_FAILED', status: 502 });
  });
});
