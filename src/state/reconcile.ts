import type { Logger } from 'pino';
import type { Config, ServiceConfig } from '../config/schema.js';
import type { ServiceState } from '../routing/service-state.js';
import { initialState } from '../routing/snapshot.js';
import { fitDelivery } from './fit-delivery.js';
import type { VersionedState } from './state-store.js';

/*
 * Fitting runtime state to the config as it is now: at start (the stored state), on a
 * reload (what this instance serves, or what a shared store holds of a service new to
 * this instance) and when state arrives from elsewhere. Pure: the controller decides when.
 */

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

/**
 * The state and store version of every service `config` declares: this instance's where
 * it has a state, else what `known` says the store holds; each state fitted to the
 * config. Services without either start from the config.
 */
export function carryOver(
  config: Config,
  states: ReadonlyMap<string, ServiceState>,
  versions: ReadonlyMap<string, number>,
  known: (service: string) => VersionedState | undefined,
  log: Logger,
): { states: Map<string, ServiceState>; versions: Map<string, number> } {
  const carried = { states: new Map<string, ServiceState>(), versions: new Map<string, number>() };
  for (const service of config.services) {
    const stored = states.has(service.name) ? undefined : known(service.name);
    const state = states.get(service.name) ?? stored?.state;
    if (state) carried.states.set(service.name, reconcile(service, state, log));
    const version = stored?.version ?? versions.get(service.name);
    if (version !== undefined) carried.versions.set(service.name, version);
  }
  return carried;
}
