import type { Config } from '../config/schema.js';
import { EventBus } from '../events/bus.js';
import type { MeterFactory } from '../pool/stack-meter.js';
import { TargetRegistry } from '../pool/registry.js';
import type { Target } from '../pool/target.js';
import type { ServiceState } from '../routing/service-state.js';
import { buildSnapshot, type RoutingSnapshot } from '../routing/snapshot.js';
import type { RoutingSource } from '../state/routing-source.js';
import type { RoutingWire, TargetHealth } from './snapshot-wire.js';

/**
 * A worker's copy of the primary's routing: each RoutingWire is merged into the runtime
 * state it holds and the snapshot rebuilt with the primary's generation, then swapped in
 * one assignment as the controller does. Targets outlive rebuilds (a TargetRegistry), so
 * in-flight counts and passive ejections carry over; their health is the primary's.
 */
export class RoutingReplica implements RoutingSource {
  readonly events = new EventBus();
  private readonly registry = new TargetRegistry();
  private readonly states = new Map<string, ServiceState>();
  private readonly meters: MeterFactory;
  private config: Config;
  private current: RoutingSnapshot;

  /** Starts from a whole wire (one with its config). */
  constructor(wire: RoutingWire, meters: MeterFactory) {
    if (wire.config === undefined) throw new Error('the first routing of a worker carries its config');
    this.meters = meters;
    this.config = wire.config;
    this.current = this.rebuild(wire);
  }

  /** The current routing snapshot. */
  get snapshot(): RoutingSnapshot {
    return this.current;
  }

  /** The config the snapshot was built from. */
  get currentConfig(): Config {
    return this.config;
  }

  /** Applies a pushed snapshot: the routing swaps in one step. */
  apply(wire: RoutingWire): void {
    if (wire.config !== undefined) {
      this.config = wire.config;
      this.states.clear();
    }
    this.current = this.rebuild(wire);
  }

  /** The target a health report is about, if this routing has it. */
  target(health: Pick<TargetHealth, 'service' | 'stack' | 'target'>): Target | undefined {
    return this.current.services
      .get(health.service)
      ?.stacks.get(health.stack)
      ?.targets.find((t) => t.address === health.target);
  }

  /** Takes the primary's view of a target's health; a later local ejection is kept. */
  setHealth(health: TargetHealth): void {
    const target = this.target(health);
    if (target === undefined) return;
    target.setHealthy(health.healthy);
    if (health.ejectedUntil > target.ejectedUntil) target.eject(health.ejectedUntil);
  }

  private rebuild(wire: RoutingWire): RoutingSnapshot {
    const actives = new Map<string, { active: { name: string } }>();
    if (wire.config === undefined) for (const [name, route] of this.current.services) actives.set(name, { active: { name: route.active.name } });
    for (const service of wire.services) {
      this.states.set(service.name, { ...service.state, history: [] });
      actives.set(service.name, { active: { name: service.active } });
    }
    const draft = this.registry.draft();
    const snapshot = buildSnapshot(this.config, this.states, draft, wire.generation, { services: actives }, this.meters);
    this.registry.commit(draft);
    this.current = snapshot;
    for (const service of wire.services) for (const health of service.health) this.setHealth(health);
    return snapshot;
  }
}
