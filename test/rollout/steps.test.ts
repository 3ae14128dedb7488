import { describe, expect, it } from 'vitest';
import { SwitchyardError } from '../../src/errors.js';
import { describeStep } from '../../src/config/delivery-schema.js';
import { checkSteps, pauseOf, stepReason } from '../../src/rollout/steps.js';

function refusal(steps: unknown): string {
  try {
    checkSteps(steps);
  } catch (err) {
    expect(err).toBeInstanceOf(SwitchyardError);
    return `${(err as SwitchyardError).code} ${(err as SwitchyardError).message}`;
  }
  throw new Error('accepted');
}

describe('checkSteps', () => {
  it('keeps good steps and ends them at weight 100', () => {
    expect(checkSteps([{ weight: 10 }, { pause: '2m' }, { analysis: 'default' }, { weight: 50 }, { pause: {} }])).toEqual([
      { weight: 10 },
      { pause: '2m' },
      { analysis: 'default' },
      { weight: 50 },
      { pause: {} },
      { weight: 100 },
    ]);
    expect(checkSteps([{ weight: 20 }, { weight: 100 }, { pause: 5000 }])).toEqual([{ weight: 20 }, { weight: 100 }, { pause: 5000 }]);
    expect(checkSteps([{ pause: '1s' }])).toEqual([{ pause: '1s' }, { weight: 100 }]);
  });

  it('names the first bad step', () => {
    expect(refusal([{ weight: 10 }, { weight: 10.5 }])).toBe('INVALID_ROLLOUT steps[1]: weight must be an integer from 0 to 100');
    expect(refusal([{ weight: -1 }])).toBe('INVALID_ROLLOUT steps[0]: weight must be an integer from 0 to 100');
    expect(refusal([{ pause: { until: 'x' } }])).toBe('INVALID_ROLLOUT steps[0]: pause is a duration, or {} to wait for promote');
    expect(refusal([{ pause: '-2m' }])).toMatch(/^INVALID_ROLLOUT steps\[0\]: pause is a duration/);
    expect(refusal([{ analysis: 'p99' }])).toMatch(/^INVALID_ROLLOUT steps\[0\]: analysis must be "default"/);
    expect(refusal([{ promote: true }])).toMatch(/^INVALID_ROLLOUT steps\[0\]: a step is \{weight/);
    expect(refusal(['weight 10'])).toMatch(/^INVALID_ROLLOUT steps\[0\]: a step is/);
    expect(refusal([])).toMatch(/^INVALID_ROLLOUT steps: /);
    expect(refusal(Array.from({ length: 101 }, () => ({ weight: 1 })))).toMatch(/^INVALID_ROLLOUT steps: /);
  });
});

describe('step words', () => {
  it('says what a step is and writes the history reason', () => {
    expect(describeStep({ weight: 50 })).toBe('weight 50');
    expect(describeStep({ pause: 120_000 })).toBe('pause 2m');
    expect(describeStep({ pause: {} })).toBe('pause until promoted');
    expect(describeStep({ analysis: 'default' })).toBe('analysis');
    expect(stepReason(1, 6, 50)).toBe('rollout step 2/6: weight 50');
    expect(pauseOf({ pause: '1m' })).toBe(60_000);
    expect(pauseOf({ pause: {} })).toBeNull();
    expect(pauseOf({ weight: 1 })).toBeUndefined();
  });
});
