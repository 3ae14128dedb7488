import type { Logger } from 'pino';
import { STACK_ROLES } from '../config/delivery-schema.js';
import type { ServiceConfig } from '../config/schema.js';
import type { ServiceState } from '../routing/service-state.js';

/** The stored overrides and rollout of a service that still fit its configured stacks (SPEC §10); what no longer fits is dropped with a warning. */
export function fitDelivery(service: ServiceConfig, stored: ServiceState, log: Pick<Logger, 'warn'>): Pick<ServiceState, 'overrides' | 'rollout'> {
  const names = Object.keys(service.stacks);
  let fitted: Pick<ServiceState, 'overrides' | 'rollout'> = {};
  const { overrides, rollout } = stored;
  if (overrides !== undefined) {
    const known = overrides.filter((o) => STACK_ROLES.includes(o.to) || names.includes(o.to));
    if (known.length < overrides.length) log.warn({ service: service.name }, 'stored overrides naming a stack no longer configured were left out');
    fitted = { ...fitted, overrides: known };
  }
  if (rollout !== undefined) {
    if (names.includes(rollout.from) && names.includes(rollout.to)) fitted = { ...fitted, rollout };
    else log.warn({ service: service.name, from: rollout.from, to: rollout.to }, 'stored rollout names a stack no longer configured; dropped');
  }
  return fitted;
}
