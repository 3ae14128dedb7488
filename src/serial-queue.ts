/**
 * Runs async tasks one at a time, in arrival order: what a task reads stays true until
 * it has written (state mutations and their durable write; certificate files and maps).
 * A failed task fails only its own caller; the next one runs all the same.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `task` after every task queued before it; settles as `task` does. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
