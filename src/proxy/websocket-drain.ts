import type { Logger } from 'pino';
import type { SwitchyardEvent } from '../events/bus.js';
import type { RoutingSnapshot } from '../routing/snapshot.js';
import type { WebSocketRegistry } from './websocket.js';

/**
 * `websocket_drain`: after a switch, a weight change or a rollback, the WebSockets of
 * stacks that have no weight left are closed (1001) once the service's drain time has
 * passed. Stacks that regained weight meanwhile keep theirs: weights are read when the
 * timer fires.
 */
export class WebSocketDrain {
  private readonly snapshot: () => RoutingSnapshot;
  private readonly websockets: WebSocketRegistry;
  private readonly log: Logger;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(snapshot: () => RoutingSnapshot, websockets: WebSocketRegistry, log: Logger) {
    this.snapshot = snapshot;
    this.websockets = websockets;
    this.log = log;
  }

  /** Subscribe this to the event bus. */
  readonly onEvent = (event: SwitchyardEvent): void => {
    if (event.type === 'switch' || event.type === 'weights' || event.type === 'rollback') this.schedule(event.service);
  };

  /** Cancels every pending drain (shutdown). */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private schedule(service: string): void {
    const drain = this.snapshot().services.get(service)?.config.websocket_drain;
    if (drain === undefined) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const route = this.snapshot().services.get(service);
      if (!route) return;
      const keep = new Set(route.pools.filter((_, i) => (route.weights[i] ?? 0) > 0).map((p) => p.name));
      const closed = this.websockets.drain(service, keep);
      if (closed) this.log.info({ service, closed }, 'websockets drained after switch');
    }, drain);
    this.timers.add(timer);
  }
}
