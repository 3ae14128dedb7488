import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RoutingReplica } from '../../src/cluster/routing-replica.js';
import { healthOf, RoutingEncoder } from '../../src/cluster/snapshot-wire.js';
import { validateConfig } from '../../src/config/load.js';
import type { RoutingSnapshot } from '../../src/routing/snapshot.js';
import { StateController } from '../../src/state/controller.js';
import { FileStateStore } from '../../src/state/file-store.js';
import { tempDir } from '../helpers/switchyard.js';

async function open(): Promise<StateController> {
  const dir = tempDir();
  const stacks = { blue: { targets: ['127.0.0.1:1'] }, green: { targets: ['127.0.0.1:2', '127.0.0.1:3'] } };
  const config = validateConfig({
    listeners: [{ name: 'http', port: 0 }],
    state: { path: join(dir, 'state.json') },
    certs_dir: join(dir, 'certs'),
    services: [
      { name: 'web', hosts: ['web.test'], stacks },
      { name: 'api', hosts: ['api.test'], stacks },
    ],
  });
  return StateController.open(config, new FileStateStore(config.state.path), pino({ level: 'silent' }));
}

/** What a worker must agree with the primary on, per service. */
function view(snapshot: RoutingSnapshot) {
  return {
    generation: snapshot.generation,
    services: [...snapshot.services.values()].map((r) => ({
      name: r.name,
      generation: r.state.generation,
      weights: r.weights,
      active: r.active.name,
      standby: r.standby.name,
      targets: r.pools.map((p) => p.targets.map((t) => `${t.address}:${t.healthy}:${t.ejectedUntil}`)),
    })),
  };
}

describe('RoutingReplica', () => {
  it('rebuilds the primary’s snapshot from pushes that carry only the services that changed', async () => {
    const controller = await open();
    const encoder = new RoutingEncoder();
    const first = encoder.next(controller.snapshot);
    expect(first.config).toBe(controller.currentConfig);
    const replica = new RoutingReplica(first, () => ({ response() {}, upstreamError() {}, mirror() {} }));
    expect(view(replica.snapshot)).toEqual(view(controller.snapshot));

    await controller.switchTo('web', 'green');
    const delta = encoder.next(controller.snapshot);
    expect(delta.config).toBeUndefined();
    expect(delta.services.map((s) => s.name)).toEqual(['web']);
    expect(delta.services[0]?.state).not.toHaveProperty('history');
    replica.apply(delta);
    expect(view(replica.snapshot)).toEqual(view(controller.snapshot));

    await controller.setTargets('api', 'blue', ['127.0.0.1:4']);
    replica.apply(encoder.next(controller.snapshot));
    expect(view(replica.snapshot)).toEqual(view(controller.snapshot));
    expect(
      replica.snapshot.router
        .match('api.test', '/')
        ?.stacks.get('blue')
        ?.targets.map((t) => t.address),
    ).toEqual(['127.0.0.1:4']);
  });

  it('breaks a weight tie as the primary did, also in a worker that starts at the tie', async () => {
    const controller = await open();
    const encoder = new RoutingEncoder();
    const replica = new RoutingReplica(encoder.next(controller.snapshot), () => ({ response() {}, upstreamError() {}, mirror() {} }));
    await controller.switchTo('web', 'green');
    await controller.setWeights('web', { blue: 50, green: 50 });
    replica.apply(encoder.next(controller.snapshot));
    expect(controller.service('web').active.name).toBe('green');
    expect(replica.snapshot.services.get('web')?.active.name).toBe('green');
    const fresh = new RoutingReplica(encoder.full(controller.snapshot), () => ({ response() {}, upstreamError() {}, mirror() {} }));
    expect(view(fresh.snapshot)).toEqual(view(controller.snapshot));
  });

  it('takes the primary’s target health, and keeps Target objects across pushes', async () => {
    const controller = await open();
    const encoder = new RoutingEncoder();
    const replica = new RoutingReplica(encoder.next(controller.snapshot), () => ({ response() {}, upstreamError() {}, mirror() {} }));
    const primaryTarget = controller.service('web').stacks.get('green')?.targets[1];
    const workerTarget = replica.snapshot.services.get('web')?.stacks.get('green')?.targets[1];
    if (!primaryTarget || !workerTarget) throw new Error('no target');
    primaryTarget.setHealthy(false);
    primaryTarget.eject(Date.now() + 60_000);
    replica.setHealth(healthOf(primaryTarget));
    expect(workerTarget.isAvailable(Date.now())).toBe(false);
    expect(workerTarget.ejectedUntil).toBe(primaryTarget.ejectedUntil);
    await controller.switchTo('web', 'green', { force: true });
    replica.apply(encoder.next(controller.snapshot));
    expect(replica.snapshot.services.get('web')?.stacks.get('green')?.targets[1]).toBe(workerTarget);
    expect(view(replica.snapshot)).toEqual(view(controller.snapshot));
    expect(() => replica.setHealth({ service: 'web', stack: 'green', target: '10.9.9.9:1', healthy: true, ejectedUntil: 0 })).not.toThrow();
  });
});
