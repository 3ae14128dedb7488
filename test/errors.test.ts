import { describe, expect, it } from 'vitest';
import { ERRORS, SwitchyardError, type ErrorCode } from '../src/errors.js';

describe('error catalogue', () => {
  it('gives every code an HTTP error status and a message', () => {
    for (const [code, entry] of Object.entries(ERRORS)) {
      expect(code).toMatch(/^[A-Z_]+$/);
      expect(entry.status).toBeGreaterThanOrEqual(400);
      expect(entry.status).toBeLessThan(600);
      expect(entry.message.length).toBeGreaterThan(0);
    }
  });

  it('builds errors with the catalogue status and a JSON body', () => {
    const plain = new SwitchyardError('PRECONDITION_FAILED');
    expect(plain.status).toBe(412);
    expect(plain.toJSON()).toEqual({ error: { code: 'PRECONDITION_FAILED', message: ERRORS.PRECONDITION_FAILED.message } });
    const refined = new SwitchyardError('UNKNOWN_STACK' as ErrorCode, 'No stack purple in web');
    expect(refined.status).toBe(404);
    expect(JSON.parse(JSON.stringify(refined))).toEqual({ error: { code: 'UNKNOWN_STACK', message: 'No stack purple in web' } });
    expect(refined).toBeInstanceOf(Error);
  });
});
