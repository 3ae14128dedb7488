import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import type { SwitchyardEvent } from '../../src/events/bus.js';
import { StateController } from '../../src/state/controller.js';
import { FileStateStore } from '../../src/state/file-store.js';
import { tempDir } from '../helpers/switchyard.js';

function configWith(dir: string, blue: string[]) {
  return validateConfig({
    listeners: [{ name: 'http', port: 0 }],
    state: { path: join(dir, 'state.json') },
    certs_dir: join(dir, 'certs'),
    services: [{ name: 'web', stacks: { blue: { targets: blue }, green: { targets: ['127.0.0.1:2'] } } }],
  });
}

async function open() {
  const dir = tempDir();
  const config = configWith(dir, ['127.0.0.1:1']);
  const controller = await StateController.open(config, new FileStateStore(config.state.path), pino({ level: 'silent' }));
  const events: SwitchyardEvent[] = [];
  controller.events.subscribe((e) => events.push(e));
  const added: string[] = [];
  const removed: string[] = [];
  controller.registry.onAdded = (_s, _st, t) => added.push(t.address);
  controller.registry.onRemoved = (_s, _st, t) => removed.push(t.address);
  return { dir, config, controller, events, added, removed };
}

describe('StateController', () => {
  describe('#reload', () => {
    it('changes nothing when the prepare step fails: snapshot, config, targets and events stay', async () => {
      const { dir, config, controller, events, added, removed } = await open();
      const before = controller.snapshot;
      const next = configWith(dir, ['127.0.0.1:3']);
      let committed = false;
      const step = {
        prepare: () => Promise.reject(new Error('port in use')),
        commit: () => {
          committed = true;
        },
      };
      await expect(controller.reload(next, step)).rejects.toThrow('port in use');
      expect(controller.snapshot).toBe(before);
      expect(controller.currentConfig).toBe(config);
      expect(committed).toBe(false);
      expect(events).toEqual([]);
      expect(added).toEqual([]);
      expect(removed).toEqual([]);
      // The next mutation builds on the running routing, with the next generation.
      const route = await controller.switchTo('web', 'green', { force: true });
      expect(route.stacks.get('blue')?.targets.map((t) => t.address)).toEqual(['127.0.0.1:1']);
      expect(controller.snapshot.generation).toBe(before.generation + 1);
    });

    it('swaps the routing before commit runs, then adopts the new targets and publishes the reload', async () => {
      const { dir, controller, events, added, removed } = await open();
      const next = configWith(dir, ['127.0.0.1:3']);
      let seenAtCommit: string[] = [];
      let seenAtPrepare: string[] = [];
      const addresses = () =>
        controller
          .service('web')
          .stacks.get('blue')
          ?.targets.map((t) => t.address) ?? [];
      const step = {
        prepare: async () => {
          seenAtPrepare = addresses();
        },
        commit: () => {
          seenAtCommit = addresses();
        },
      };
      const snapshot = await controller.reload(next, step);
      expect(seenAtPrepare).toEqual(['127.0.0.1:1']);
      expect(seenAtCommit).toEqual(['127.0.0.1:3']);
      expect(controller.snapshot).toBe(snapshot);
      expect(added).toEqual(['127.0.0.1:3']);
      expect(removed).toEqual(['127.0.0.1:1']);
      expect(events).toMatchObject([{ type: 'reload', generation: snapshot.generation }]);
    });

    it('waits for a mutation in flight, and a mutation waits for the reload', async () => {
      const { dir, controller } = await open();
      const order: string[] = [];
      const switching = controller.switchTo('web', 'green', { force: true }).then(() => order.push('switch'));
      const reloading = controller
        .reload(configWith(dir, ['127.0.0.1:3']), { prepare: async () => void order.push('prepare'), commit: () => void order.push('commit') })
        .then(() => order.push('reloaded'));
      const back = controller.switchTo('web', 'blue', { force: true }).then(() => order.push('switch back'));
      await Promise.all([switching, reloading, back]);
      expect(order).toEqual(['switch', 'prepare', 'commit', 'reloaded', 'switch back']);
      // The reload kept the switch made before it.
      expect(controller.service('web').state.history.map((h) => h.reason)).toEqual(['switch', 'switch']);
    });
  });
});
