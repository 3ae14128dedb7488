import type { Config } from '../config/schema.js';
import type { TargetDraft, TargetRegistry } from '../pool/registry.js';
import { type MeterFactory, NOOP_METER } from '../pool/stack-meter.js';
import type { ServiceState } from '../routing/service-state.js';
import { buildSnapshot, type RoutingSnapshot } from '../routing/snapshot.js';

/** A built snapshot and the registry draft its targets came from, not yet live. */
export interface BuiltRouting {
  readonly snapshot: RoutingSnapshot;
  readonly draft: TargetDraft;
}

/**
 * The one mutable pointer to the routing snapshot and the two steps that move it: a new
 * snapshot is built off to the side from a registry draft (nothing live changes, so a
 * reload can still be cancelled), then made live in one swap, after which the registry
 * adopts its targets (the health checker follows). Apart from the controller, which
 * decides what state a snapshot is built from and when it goes live.
 */
export class RoutingSlot {
  /** The targets of the live snapshot. */
  readonly registry: TargetRegistry;
  private current: RoutingSnapshot;
  private meters: MeterFactory = () => NOOP_METER;

  /** Builds the first snapshot (generation 1) and makes it live. */
  constructor(config: Config, states: ReadonlyMap<string, ServiceState>, registry: TargetRegistry) {
    this.registry = registry;
    const draft = registry.draft();
    this.current = buildSnapshot(config, states, draft, 1);
    registry.commit(draft);
  }

  /** The live snapshot. */
  get snapshot(): RoutingSnapshot {
    return this.current;
  }

  /** Sets the metrics factory the pools of later builds get their pre-bound meters from. */
  useMeters(meters: MeterFactory): void {
    this.meters = meters;
  }

  /** Builds the routing for `config` and `states` without making it live or touching the registry. */
  build(config: Config, states: ReadonlyMap<string, ServiceState>): BuiltRouting {
    const draft = this.registry.draft();
    return { snapshot: buildSnapshot(config, states, draft, this.current.generation + 1, this.current, this.meters), draft };
  }

  /** Makes a built snapshot live: one swap, then the registry adopts its targets. */
  install(built: BuiltRouting): void {
    this.current = built.snapshot;
    this.registry.commit(built.draft);
  }
}
