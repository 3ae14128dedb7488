import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { workerCount } from '../../src/cluster/primary.js';
import { ConfigError, validateConfig } from '../../src/config/load.js';

const base = {
  listeners: [{ name: 'http', port: 9000 }],
  services: [{ name: 'web', stacks: { blue: { targets: ['127.0.0.1:8080'] } } }],
};

describe('config: workers', () => {
  it('defaults to auto: one worker per CPU this process may use', () => {
    const config = validateConfig(base);
    expect(config.workers).toBe('auto');
    expect(workerCount(config)).toBe(availableParallelism());
    expect(config.metrics.per_worker).toBe(false);
    expect(config.debug.worker_header).toBe(false);
  });

  it('takes a count, 0 meaning one process without workers', () => {
    expect(workerCount(validateConfig({ ...base, workers: 4 }))).toBe(4);
    expect(workerCount(validateConfig({ ...base, workers: 0 }))).toBe(0);
  });

  it.each([['many'], [-1], [1.5], [257], [null]])('refuses workers: %j naming the key', (workers) => {
    expect(() => validateConfig({ ...base, workers })).toThrow(ConfigError);
    try {
      validateConfig({ ...base, workers });
    } catch (err) {
      expect((err as ConfigError).problems).toEqual(['workers: must be "auto" or a number of workers (0-256)']);
    }
  });

  it('refuses unknown keys under debug and metrics', () => {
    expect(() => validateConfig({ ...base, debug: { worker_id: true } })).toThrow(/debug/);
    expect(() => validateConfig({ ...base, metrics: { per_workers: true } })).toThrow(/metrics/);
  });
});
