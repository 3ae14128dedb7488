import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { newRollout } from '../../src/rollout/record.js';
import { StateController } from '../../src/state/controller.js';
import { FileStateStore } from '../../src/state/file-store.js';
import { readStoredState } from '../../src/state/stored-state.js';
import { adminCall } from '../helpers/admin-call.js';
import { startSwitchyard, tempDir } from '../helpers/switchyard.js';
import { startBlueGreen } from '../helpers/upstream.js';

const rollout = {
  ...newRollout('blue', 'green', [{ weight: 10 }, { pause: {} }, { weight: 100 }], '2026-01-01T00:00:00.000Z'),
  step: 1,
  state: 'paused',
  held_by: 'step',
};
const base = { generation: 3, weights: { blue: 90, green: 10 }, targets: {}, history: [] };

function read(web: unknown) {
  const result = readStoredState({ version: 1, services: { web } });
  if (!result.ok) throw new Error(result.reason);
  return { web: result.state.services.web, problems: result.problems.map((p) => `${p.field}: ${p.reason}`) };
}

describe('stored rollouts and overrides', () => {
  it('keeps a good rollout and good overrides as they are', () => {
    const overrides = [{ header: 'x-canary', value: 'always', to: 'standby' }];
    expect(read({ ...base, rollout, overrides })).toEqual({ web: { ...base, rollout, overrides }, problems: [] });
  });

  it('leaves out a bad rollout whole, saying why, and keeps the rest of the service', () => {
    for (const [bad, why] of [
      [{ ...rollout, step: 7 }, /step is past the last step/],
      [{ ...rollout, state: 'exploded' }, /state/],
      [{ ...rollout, steps: [{ weight: 500 }] }, /steps\.0: weight must be an integer/],
      [{ ...rollout, to: 'blue' }, /from and to are the same stack/],
      [{ ...rollout, pause_until: 'tomorrow' }, /pause_until: must be an ISO time/],
      ['running', /not a rollout/],
    ] as const) {
      const { web, problems } = read({ ...base, rollout: bad });
      expect(web).toEqual(base);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(why);
      expect(problems[0]).toMatch(/^rollout: not a rollout .*; left out, no rollout is resumed$/);
    }
  });

  it('leaves out a bad override entry and keeps the others', () => {
    const good = { cookie: 'canary', value: 'always', to: 'green' };
    const { web, problems } = read({ ...base, overrides: [{ header: 'x', to: 'green' }, good] });
    expect(web?.overrides).toEqual([good]);
    expect(problems).toEqual([expect.stringMatching(/^overrides\[0\]: not an override \(value: .*\); left out$/)]);
  });

  it('starts with a bad stored rollout left out (no rollout resumed, the weights served)', async () => {
    const { services } = await startBlueGreen();
    const dir = tempDir();
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ version: 1, services: { web: { ...base, rollout: { ...rollout, step: 9 } } } }));
    const app = await startSwitchyard(services, {}, dir);
    expect(app.controller.service('web').weights).toEqual([90, 10]);
    expect((await adminCall(app, 'GET', '/v1/services/web/rollout')).body.error.code).toBe('NO_ROLLOUT');
    // Nothing holds the weights any more.
    expect((await adminCall(app, 'POST', '/v1/services/web/switch', { to: 'blue' })).status).toBe(200);
  });

  it('drops a stored rollout whose stacks the config no longer has', async () => {
    const dir = tempDir();
    const path = join(dir, 'state.json');
    writeFileSync(path, JSON.stringify({ version: 1, services: { web: { ...base, rollout: { ...rollout, to: 'purple' } } } }));
    const config = validateConfig({
      listeners: [{ name: 'http', port: 0 }],
      state: { path },
      services: [{ name: 'web', stacks: { blue: { targets: ['127.0.0.1:1'] }, green: { targets: ['127.0.0.1:2'] } } }],
    });
    const controller = await StateController.open(config, new FileStateStore(path), pino({ level: 'silent' }));
    expect(controller.service('web').state.rollout).toBeUndefined();
    await controller.switchTo('web', 'blue', { force: true });
  });

  it('refuses manual weight changes while a stored rollout is in progress, and force aborts it in the same write', async () => {
    const dir = tempDir();
    const path = join(dir, 'state.json');
    writeFileSync(path, JSON.stringify({ version: 1, services: { web: { ...base, rollout } } }));
    const config = validateConfig({
      listeners: [{ name: 'http', port: 0 }],
      state: { path },
      services: [{ name: 'web', stacks: { blue: { targets: ['127.0.0.1:1'] }, green: { targets: ['127.0.0.1:2'] } } }],
    });
    const controller = await StateController.open(config, new FileStateStore(path), pino({ level: 'silent' }));
    await expect(controller.setWeights('web', { blue: 50, green: 50 })).rejects.toMatchObject({ code: 'ROLLOUT_IN_PROGRESS', status: 409 });
    expect(controller.service('web').state.generation).toBe(3);
    const forced = await controller.setWeights('web', { blue: 100 }, { force: true });
    expect(forced.state.rollout).toMatchObject({ state: 'aborted', reason: 'aborted: weights with force', revision: 2 });
    const stored = await new FileStateStore(path).load();
    expect(stored?.services.web?.rollout?.state).toBe('aborted');
    expect(stored?.services.web?.weights).toEqual({ blue: 100, green: 0 });
  });
});
