import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { SwitchyardError } from '../../src/errors.js';
import { StateController } from '../../src/state/controller.js';
import { FileStateStore } from '../../src/state/file-store.js';
import type { PersistedState } from '../../src/state/stored-state.js';
import { tempDir } from '../helpers/switchyard.js';

/** A real file store whose writes take a while and can be made to fail; it records overlap. */
class SlowStore extends FileStateStore {
  writing = 0;
  mostAtOnce = 0;
  saves = 0;
  failNext = false;

  override async save(state: PersistedState): Promise<void> {
    this.writing++;
    this.mostAtOnce = Math.max(this.mostAtOnce, this.writing);
    try {
      // A slow disk on purpose (time passing is the point): overlapping writes would show in mostAtOnce.
      await new Promise((r) => setTimeout(r, 5));
      if (this.failNext) {
        this.failNext = false;
        throw new Error('disk full');
      }
      await super.save(state);
      this.saves++;
    } finally {
      this.writing--;
    }
  }
}

async function open(): Promise<{ controller: StateController; store: SlowStore }> {
  const dir = tempDir();
  const config = validateConfig({
    listeners: [{ name: 'http', port: 0 }],
    state: { path: join(dir, 'state.json') },
    certs_dir: join(dir, 'certs'),
    services: [{ name: 'web', stacks: { blue: { targets: ['127.0.0.1:1'] }, green: { targets: ['127.0.0.1:2'] } } }],
  });
  const store = new SlowStore(config.state.path);
  return { controller: await StateController.open(config, store, pino({ level: 'silent' })), store };
}

describe('StateController', () => {
  it('serializes concurrent mutations: one write at a time, in arrival order, none lost', async () => {
    const { controller, store } = await open();
    const order = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? 'green' : 'blue'));
    const results = await Promise.all(order.map((to) => controller.switchTo('web', to, { force: true })));
    expect(store.mostAtOnce).toBe(1);
    expect(store.saves).toBe(10);
    expect(results.map((r) => r.active.name)).toEqual(order);
    const route = controller.service('web');
    expect(route.state.generation).toBe(11);
    expect(route.state.history).toHaveLength(10);
    expect((await new FileStateStore(controller.currentConfig.state.path).load())?.services.web?.weights).toEqual({ blue: 100, green: 0 });
  });

  it('refuses a stale If-Match without writing anything', async () => {
    const { controller, store } = await open();
    await controller.switchTo('web', 'green', { force: true, ifMatch: 1 });
    await expect(controller.switchTo('web', 'blue', { force: true, ifMatch: 1 })).rejects.toMatchObject({ code: 'PRECONDITION_FAILED' });
    expect(store.saves).toBe(1);
    expect(controller.service('web').active.name).toBe('green');
  });

  it('keeps the old snapshot when the durable write fails, and goes on with the next mutation', async () => {
    const { controller, store } = await open();
    const before = controller.snapshot;
    store.failNext = true;
    const failed = controller.switchTo('web', 'green', { force: true });
    await expect(failed).rejects.toBeInstanceOf(SwitchyardError);
    await expect(failed).rejects.toMatchObject({ code: 'STATE_WRITE_FAILED' });
    expect(controller.snapshot).toBe(before);
    expect(controller.service('web').active.name).toBe('blue');
    await controller.switchTo('web', 'green', { force: true });
    expect(controller.service('web').active.name).toBe('green');
  });

  it('keeps the same Target objects (and their health) across a switch', async () => {
    const { controller } = await open();
    const blue = controller.service('web').stacks.get('blue')?.targets[0];
    await controller.switchTo('web', 'green', { force: true });
    expect(controller.service('web').stacks.get('blue')?.targets[0]).toBe(blue);
  });
});
