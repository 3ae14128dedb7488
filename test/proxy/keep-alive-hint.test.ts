import { describe, expect, it } from 'vitest';
import { idleTimeoutFor } from '../../src/proxy/keep-alive-hint.js';

describe('idleTimeoutFor', () => {
  it('keeps the pool idle time when the upstream names no keep-alive timeout', () => {
    expect(idleTimeoutFor(['Content-Type', 'text/plain'], 4000)).toBe(4000);
    expect(idleTimeoutFor(['Keep-Alive', 'max=100'], 4000)).toBe(4000);
  });

  it("closes a second before the upstream's announced timeout, whatever the header's case", () => {
    expect(idleTimeoutFor(['keep-alive', 'timeout=3'], 4000)).toBe(2000);
    expect(idleTimeoutFor(['Keep-Alive', 'max=100, TIMEOUT=2'], 4000)).toBe(1000);
  });

  it('never lengthens the pool idle time', () => {
    expect(idleTimeoutFor(['Keep-Alive', 'timeout=60'], 4000)).toBe(4000);
  });

  it('does not read a parameter that only ends in "timeout"', () => {
    expect(idleTimeoutFor(['Keep-Alive', 'xtimeout=1'], 4000)).toBe(4000);
  });
});
