import { onTestFinished, TestRunner } from 'vitest';

/** Something a test starts and must close: an upstream, a server, a switchyard (stopped at once). */
export type Closable = { close(): unknown } | { stop(graceMs: number): unknown };

/**
 * Runs `fn` once the current test has finished, passed or failed; the last registered runs
 * first (so a proxy stops before its upstreams close). Only inside a test or a `beforeEach`:
 * vitest throws from a `beforeAll`, where an `afterAll` must close what it started.
 */
export function defer(fn: () => unknown): void {
  onTestFinished(async () => {
    await fn();
  });
}

/** Closes `resource` when the current test finishes (`stop(0)` for a switchyard); returns it. */
export function track<T extends Closable>(resource: T): T {
  defer(() => ('stop' in resource ? resource.stop(0) : resource.close()));
  return resource;
}

/**
 * `track` when called inside a test (or its `beforeEach`), a no-op otherwise: what the
 * start* helpers use, so a test need not close what it starts, and a suite may still start
 * one in `beforeAll` and close it in `afterAll`.
 */
export function trackInTest<T extends Closable>(resource: T): T {
  return TestRunner.getCurrentTest() === undefined ? resource : track(resource);
}
