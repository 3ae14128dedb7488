/**
 * Test hooks, read from the environment only (never from the config): the cluster tests
 * need a worker that misbehaves on purpose.
 *
 * `SWITCHYARD_TEST_STALL_WORKER=<id>`: the first process of worker <id> takes routing
 * pushes without applying or acknowledging them while it goes on serving, as a worker
 * stuck in a long synchronous task would look to the primary. The primary must replace
 * it within the acknowledgement bound; its replacement behaves.
 */
export function stallsRouting(id: number, incarnation: number): boolean {
  return incarnation === 0 && process.env.SWITCHYARD_TEST_STALL_WORKER === String(id);
}

/**
 * `SWITCHYARD_TEST_PUSH_DELAY=<ms>`: every worker applies (and acknowledges) each routing
 * and certificate push that much later, as a busy worker would; a change must still never
 * be answered before every worker applied it. 0 when unset.
 */
export function pushDelay(): number {
  const ms = Number(process.env.SWITCHYARD_TEST_PUSH_DELAY ?? 0);
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}
