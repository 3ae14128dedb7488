import type { RolloutAction } from '../events/bus.js';
import type { RolloutRecord } from '../routing/service-state.js';
import type { RolloutWrite, StateController } from '../state/controller.js';
import { rolloutEvent } from './record.js';

/**
 * A driver's write of a rollout record, made only if the record is still the one it
 * decided on: an operator's promote, pause or abort in between wins, and the driver reads
 * again. Apart from the driver so that its steps read as decisions, not as storage.
 */

/** Thrown inside a write whose record changed since it was read (an operator acted): nothing is written, the driver reads again. */
export class StaleRollout extends Error {}

/** What a write makes of the current record, and the rollout events it publishes once written. */
export interface RolloutChange {
  readonly write: RolloutWrite;
  readonly actions: readonly RolloutAction[];
}

/**
 * Writes what `make` makes of `service`'s rollout record if its revision is still
 * `expected`'s (else throws StaleRollout, writing nothing); then publishes its actions
 * for the written record.
 */
export async function writeIfCurrent(
  controller: StateController,
  service: string,
  expected: RolloutRecord,
  make: (current: RolloutRecord, time: string) => RolloutChange,
): Promise<void> {
  let actions: readonly RolloutAction[] = [];
  const route = await controller.recordRollout(service, (now) => {
    const current = now.state.rollout;
    if (current === undefined || current.revision !== expected.revision) throw new StaleRollout();
    const made = make(current, new Date().toISOString());
    actions = made.actions;
    return made.write;
  });
  const written = route.state.rollout;
  if (written !== undefined) for (const action of actions) controller.events.publish(rolloutEvent(action, route, written));
}
