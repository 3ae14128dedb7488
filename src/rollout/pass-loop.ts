/**
 * When a rollout driver looks at its record: a pass runs when kicked, never two at once (a
 * kick during a pass runs one more after it); a pass asks for another at once (`again`) or
 * for a kick later (`wait`, of any length). Apart from the driver, which decides what a pass
 * does, so these timing rules sit in one small place.
 */

/** Longest timer Node keeps (about 24.8 days); a longer pause is waited for in parts. */
const MAX_TIMER = 2 ** 31 - 1;

/** Runs `pass` when kicked; an error it throws goes to `failed`, which may ask for `again` or `wait`. */
export class PassLoop {
  private readonly pass: () => Promise<void>;
  private readonly failed: (err: unknown) => void;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private more = false;
  private halted = false;

  constructor(pass: () => Promise<void>, failed: (err: unknown) => void) {
    this.pass = pass;
    this.failed = failed;
  }

  /** True once halted for good. */
  get stopped(): boolean {
    return this.halted;
  }

  /** Runs a pass now, or right after the one running; drops a pending wait. */
  kick(): void {
    if (this.halted) return;
    this.cancel();
    if (this.busy) {
      this.more = true;
      return;
    }
    void this.run();
  }

  /** From inside a pass: run another one as soon as it ends. */
  again(): void {
    this.more = true;
  }

  /** Kicks after `ms` (instead of any wait set before). */
  wait(ms: number): void {
    this.cancel();
    if (this.halted) return;
    this.timer = setTimeout(() => this.kick(), Math.max(0, Math.min(ms, MAX_TIMER)));
  }

  /** Drops a pending wait. */
  cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Stops for good: no pass starts after the running one. */
  halt(): void {
    this.halted = true;
    this.cancel();
  }

  private async run(): Promise<void> {
    this.busy = true;
    try {
      do {
        this.more = false;
        try {
          await this.pass();
        } catch (err) {
          this.failed(err);
        }
      } while (this.more && !this.halted);
    } finally {
      this.busy = false;
    }
  }
}
