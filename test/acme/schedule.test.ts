import { describe, expect, it } from 'vitest';
import { MAX_JITTER_MS, RETRY_BASE_MS, RETRY_MAX_MS, renewalTime, retryDelay } from '../../src/acme/schedule.js';

const DAY = 86_400_000;
const notBefore = Date.UTC(2026, 0, 1);
const notAfter = notBefore + 90 * DAY;

describe('renewalTime', () => {
  it('renews renew_before ahead of expiry, up to a tenth of it (at most a day) earlier at random', () => {
    const input = { notBefore, notAfter, renewBefore: 30 * DAY, minInterval: 3_600_000, lastIssuedAt: undefined };
    expect(renewalTime({ ...input, random: 0 })).toBe(notAfter - 30 * DAY);
    expect(renewalTime({ ...input, random: 0.999 })).toBe(notAfter - 30 * DAY - Math.floor(0.999 * MAX_JITTER_MS));
    expect(renewalTime({ ...input, renewBefore: 2 * DAY, random: 0.5 })).toBe(notAfter - 2 * DAY - Math.floor(0.5 * 0.2 * DAY));
  });

  it('never renews sooner than min_renew_interval after issue, even when renew_before covers the whole lifetime', () => {
    const input = { notBefore, notAfter, renewBefore: 365 * DAY, minInterval: 3_600_000, random: 0.5 };
    expect(renewalTime({ ...input, lastIssuedAt: undefined })).toBe(notBefore + 3_600_000);
    expect(renewalTime({ ...input, lastIssuedAt: notBefore + 5 * DAY })).toBe(notBefore + 5 * DAY + 3_600_000);
  });
});

describe('retryDelay', () => {
  it('doubles from a minute up to six hours, with up to 10 % extra', () => {
    expect(retryDelay(1, 0)).toBe(RETRY_BASE_MS);
    expect(retryDelay(2, 0)).toBe(2 * RETRY_BASE_MS);
    expect(retryDelay(5, 0)).toBe(16 * RETRY_BASE_MS);
    expect(retryDelay(30, 0)).toBe(RETRY_MAX_MS);
    expect(retryDelay(1, 0.999)).toBeLessThan(1.1 * RETRY_BASE_MS);
  });
});
