import type { SwitchyardEvent } from '../events/bus.js';
import type { Target } from '../pool/target.js';
import type { RoutingSnapshot } from '../routing/snapshot.js';
import type { StateController } from '../state/controller.js';
import type { ToWorker } from './protocol.js';
import { healthOf, type TargetHealth } from './snapshot-wire.js';

/**
 * Target health between the primary and its workers: the primary's health events go to
 * every worker as the target's new state, and a passive ejection one worker sees comes back
 * to the primary's target, whose health event then takes it to every worker. Apart from the
 * group because it deals in routing targets and events, not in worker processes.
 */

/** The primary's target that `health` names, if the routing still has it. */
function targetOf(snapshot: RoutingSnapshot, health: Pick<TargetHealth, 'service' | 'stack' | 'target'>): Target | undefined {
  return snapshot.services
    .get(health.service)
    ?.stacks.get(health.stack)
    ?.targets.find((t) => t.address === health.target);
}

/** What every worker is sent for `event`: a target's health, or a switch, weights change or rollback (for their WebSocket drains). */
export function relayedEvent(snapshot: RoutingSnapshot, event: SwitchyardEvent): ToWorker | undefined {
  if (event.type === 'health') {
    const target = targetOf(snapshot, { service: event.service, stack: event.stack, target: event.target });
    return target === undefined ? undefined : { t: 'target', health: healthOf(target) };
  }
  if (event.type === 'switch' || event.type === 'weights' || event.type === 'rollback') return { t: 'event', event };
  return undefined;
}

/** A worker ejected a target: the primary's target takes it, and the health event sends it to every worker. */
export function applyEjection(controller: StateController, health: TargetHealth): void {
  const target = targetOf(controller.snapshot, health);
  if (target === undefined || health.ejectedUntil <= target.ejectedUntil) return;
  target.eject(health.ejectedUntil);
  const { service, stack, target: address } = health;
  const time = new Date().toISOString();
  controller.events.publish({
    type: 'health',
    time,
    service,
    stack,
    target: address,
    healthy: false,
    source: 'passive',
    error: 'ejected after consecutive failures',
  });
}
