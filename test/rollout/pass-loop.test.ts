import { describe, expect, it } from 'vitest';
import { PassLoop } from '../../src/rollout/pass-loop.js';
import { waitFor } from '../helpers/switchyard.js';

/** A loop whose passes record themselves and then wait until the test lets each end. */
function gatedLoop() {
  const log = { started: 0, ended: 0, running: 0, most: 0 };
  let release: () => void = () => undefined;
  const pass = async () => {
    log.started++;
    log.running++;
    log.most = Math.max(log.most, log.running);
    await new Promise<void>((resolve) => {
      release = resolve;
    });
    log.running--;
    log.ended++;
  };
  return { log, loop: new PassLoop(pass, () => undefined), release: () => release() };
}

describe('PassLoop', () => {
  describe('#kick', () => {
    it('runs one pass at a time: kicks during a pass make one more pass after it', async () => {
      const { log, loop, release } = gatedLoop();
      loop.kick();
      loop.kick();
      loop.kick();
      expect(log.started).toBe(1);
      release();
      await waitFor(() => log.started === 2, 2000, 'the second pass');
      release();
      await waitFor(() => log.ended === 2, 2000, 'the second pass ended');
      expect(log.most).toBe(1);
      expect(log.started).toBe(2);
    });

    it('runs at once while a wait is pending', async () => {
      let passes = 0;
      const loop = new PassLoop(
        async () => {
          passes++;
          if (passes === 1) loop.wait(60_000);
        },
        () => undefined,
      );
      loop.kick();
      await waitFor(() => passes === 1);
      loop.kick();
      await waitFor(() => passes === 2);
      loop.halt();
    });
  });

  describe('#again', () => {
    it('runs another pass as soon as this one ends', async () => {
      let passes = 0;
      const loop = new PassLoop(
        async () => {
          passes++;
          if (passes < 3) loop.again();
        },
        () => undefined,
      );
      loop.kick();
      await waitFor(() => passes === 3);
    });
  });

  describe('#wait', () => {
    it('kicks after the delay; an error goes to failed, which may wait and try again', async () => {
      let passes = 0;
      const errors: string[] = [];
      const loop = new PassLoop(
        async () => {
          passes++;
          if (passes === 1) throw new Error('first fails');
        },
        (err) => {
          errors.push((err as Error).message);
          loop.wait(10);
        },
      );
      loop.kick();
      await waitFor(() => passes === 2);
      expect(errors).toEqual(['first fails']);
    });
  });

  describe('#halt', () => {
    it('stops for good: no pass after the running one, kicks and waits do nothing', async () => {
      const { log, loop, release } = gatedLoop();
      loop.kick();
      loop.halt();
      expect(loop.stopped).toBe(true);
      loop.kick(); // during the pass
      release();
      await waitFor(() => log.ended === 1);
      loop.kick(); // after it
      loop.wait(0);
      // Timers fire in order: this one comes after the wait's, had it been set.
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(log.started).toBe(1);
    });
  });
});
