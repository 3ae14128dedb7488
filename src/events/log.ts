import type { Logger } from 'pino';
import type { EventListener } from './bus.js';

/**
 * One log line per event, written here rather than by each publisher: switches, weight
 * changes and rollbacks, replaced targets, health transitions (active and passive) and
 * failovers. Certificate changes, ACME orders and reloads are logged where they happen, with details
 * the event does not carry.
 */
export function eventLog(log: Logger): EventListener {
  return (event) => {
    switch (event.type) {
      case 'switch':
      case 'weights':
      case 'rollback':
        log.info({ event }, `${event.type}: ${event.service} → ${event.active}`);
        return;
      case 'targets':
        log.info({ service: event.service, stack: event.stack, targets: event.targets, generation: event.generation }, 'targets replaced');
        return;
      case 'health': {
        const { service, stack, target, source, error } = event;
        const message = source === 'passive' ? 'target ejected after consecutive failures' : `target ${event.healthy ? 'healthy' : 'unhealthy'}`;
        log[event.healthy ? 'info' : 'warn']({ service, stack, target, source, error }, message);
        return;
      }
      case 'failover':
        log.warn({ service: event.service, from: event.from, to: event.to }, 'failover: active stack has no healthy target');
        return;
      case 'overrides':
        log.info({ service: event.service, overrides: event.overrides, generation: event.generation }, 'overrides replaced');
        return;
      case 'rollout':
        if (event.action !== 'analysis')
          log[event.action === 'aborted' ? 'warn' : 'info']({ rollout: event }, `rollout ${event.action}: ${event.service} → ${event.to}`);
        return;
      case 'certificate':
      case 'reload':
      case 'acme':
        return;
      default: {
        const never: never = event;
        return never;
      }
    }
  };
}
