import { describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from '../../src/config/load.js';

const base = { listeners: [{ name: 'http', port: 0 }], services: [{ name: 'web', stacks: { blue: { targets: ['127.0.0.1:1'] } } }] };

function problems(extra: Record<string, unknown>): readonly string[] {
  try {
    validateConfig({ ...base, ...extra });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('upstream.engine', () => {
  it('still accepts `fast` (the only engine; ignored) so older configs load', () => {
    expect(problems({ upstream: { engine: 'fast' } })).toEqual([]);
  });

  it('refuses the removed `node` engine with a message that says so', () => {
    const found = problems({ upstream: { engine: 'node' } });
    expect(found).toHaveLength(1);
    expect(found[0]).toContain('upstream.engine');
    expect(found[0]).toContain('node engine was removed');
  });
});

describe('limits.send_timeout, request_buffer, request_buffer_total', () => {
  it('default to 60 s, 1 MiB and 256 MiB', () => {
    const config = validateConfig(base);
    expect(config.limits.send_timeout).toBe(60_000);
    expect(config.limits.request_buffer).toBe(1_048_576);
    expect(config.limits.request_buffer_total).toBe(268_435_456);
  });

  it('take durations and byte counts, and refuse bad values by their path', () => {
    expect(validateConfig({ ...base, limits: { send_timeout: '5s', request_buffer: 4096 } }).limits).toMatchObject({
      send_timeout: 5000,
      request_buffer: 4096,
    });
    const found = problems({ limits: { send_timeout: 'soon', request_buffer: 0, request_buffer_total: -1 } });
    expect(found.map((p) => p.split(':')[0])).toEqual(['limits.send_timeout', 'limits.request_buffer', 'limits.request_buffer_total']);
  });
});
