import type { Logger } from 'pino';
import type { ServiceConfig } from '../config/schema.js';
import type { ServiceState } from '../routing/service-state.js';
import { initialState } from '../routing/snapshot.js';
import { fitDelivery } from './fit-delivery.js';

/** Fits stored state to the service as configured now: unknown stacks dropped, missing ones at 0. */
export function reconcile(service: ServiceConfig, stored: ServiceState, log: Logger): ServiceState {
  const names = Object.keys(service.stacks);
  const weights = Object.fromEntries(names.map((n) => [n, stored.weights[n] ?? 0]));
  const targets = Object.fromEntries(Object.entries(stored.targets).filter(([stack]) => names.includes(stack)));
  const delivery = fitDelivery(service, stored, log);
  if (Object.values(weights).every((w) => w === 0)) {
    log.warn({ service: service.name }, 'stored weights name no configured stack; using the config');
    return { ...initialState(service), generation: stored.generation, history: stored.history, targets, ...delivery };
  }
  const { overrides: _overrides, rollout: _rollout, ...rest } = stored;
  return { ...rest, weights, targets, ...delivery };
}
