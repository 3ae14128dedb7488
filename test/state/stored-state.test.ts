import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileStateStore, StateFileError } from '../../src/state/file-store.js';
import { readStoredState } from '../../src/state/stored-state.js';
import { tempDir } from '../helpers/switchyard.js';

const change = {
  time: '2026-01-01T00:00:00.000Z',
  from: { blue: 100, green: 0 },
  to: { blue: 0, green: 100 },
  reason: 'switch',
  actor: 'admin',
  generation: 6,
};
const good = { generation: 7, weights: { blue: 0, green: 100 }, targets: { green: ['10.0.0.9:80'] }, history: [change] };

function read(web: unknown) {
  const result = readStoredState({ version: 1, services: { web } });
  if (!result.ok) throw new Error(result.reason);
  return { web: result.state.services.web, problems: result.problems.map((p) => `${p.service} ${p.field} = ${p.value}: ${p.reason}`) };
}

describe('readStoredState', () => {
  it('keeps a good service as it is, reporting nothing', () => {
    expect(read(good)).toEqual({ web: good, problems: [] });
  });

  it('leaves out a bad target, naming service, stack, index and value, and keeps the stack’s other targets', () => {
    const { web, problems } = read({ ...good, targets: { green: ['a:99999', '10.0.0.9:80', 7], blue: '10.0.0.1:80' } });
    expect(web?.targets).toEqual({ green: ['10.0.0.9:80'] });
    expect(problems).toEqual([
      'web targets.green[0] = "a:99999": port "99999" must be an integer 1-65535; left out, the stack\'s other targets are served',
      'web targets.green[2] = 7: must be a string "host:port"; left out, the stack\'s other targets are served',
      'web targets.blue = "10.0.0.1:80": must be a list of host:port; the config applies to this stack',
    ]);
  });

  it('leaves out a bad weight; weights all zero or not an object give way to the config', () => {
    expect(read({ ...good, weights: { blue: -1, green: 100 } })).toMatchObject({
      web: { weights: { green: 100 } },
      problems: [expect.stringContaining('weights.blue = -1')],
    });
    expect(read({ ...good, weights: { blue: 1.5, green: '100' } })).toMatchObject({
      web: { weights: {} },
      problems: [expect.stringContaining('blue = 1.5'), expect.stringContaining('green = "100"')],
    });
    expect(read({ ...good, weights: { blue: 0, green: 0 } })).toMatchObject({ web: { weights: {} }, problems: [expect.stringContaining('are all zero')] });
    expect(read({ ...good, weights: [100] })).toMatchObject({ web: { weights: {} }, problems: [expect.stringContaining('weights = [100]')] });
  });

  it('leaves out a malformed history entry and keeps the others', () => {
    const { web, problems } = read({ ...good, history: [{ ...change, from: { blue: -1 } }, change, 'x'] });
    expect(web?.history).toEqual([change]);
    expect(problems).toEqual([expect.stringMatching(/^web history\[0\] = .*from\.blue/), expect.stringMatching(/^web history\[2\] = "x"/)]);
    expect(read({ ...good, history: {} })).toMatchObject({ web: { history: [] }, problems: [expect.stringContaining('history = {}')] });
  });

  it('replaces a bad generation by the newest recorded one, so generations keep rising', () => {
    expect(read({ ...good, generation: 'seven' })).toMatchObject({
      web: { generation: 6 },
      problems: ['web generation = "seven": must be an integer >= 1; using 6'],
    });
    expect(read({ ...good, generation: 0, history: [] })).toMatchObject({ web: { generation: 1 } });
  });

  it('drops a service that is not an object (the config applies) and keeps the other services', () => {
    const result = readStoredState({ version: 1, services: { web: 'garbage', api: good } });
    expect(result.ok && Object.keys(result.state.services)).toEqual(['api']);
    expect(result.ok && result.problems).toEqual([
      { service: 'web', field: '(service)', value: '"garbage"', reason: 'not an object; the config applies to this service' },
    ]);
  });

  it('cuts a huge refused value to a readable length', () => {
    const { problems } = read({ ...good, targets: { green: [`${'a'.repeat(10_000)}:80`] } });
    expect(problems[0]?.length).toBeLessThan(500);
  });

  it.each([
    ['version 2', { version: 2, services: {} }],
    ['services not an object', { version: 1, services: [] }],
    ['an array', []],
  ])('refuses a document that is not a version-1 state document at all (%s)', (_name, document) => {
    const result = readStoredState(document);
    expect(result.ok).toBe(false);
  });
});

describe('FileStateStore.load with bad entries', () => {
  it('logs each left-out entry once, with the file, service, field and value, and never writes the file', async () => {
    const file = join(tempDir(), 'state.json');
    const text = JSON.stringify({ version: 1, services: { web: { ...good, targets: { green: ['a:99999'] } } } });
    writeFileSync(file, text);
    const lines: { fields: Record<string, unknown>; msg: string }[] = [];
    const store = new FileStateStore(file, { warn: (fields: Record<string, unknown>, msg: string) => lines.push({ fields, msg }) } as never);
    const state = await store.load();
    expect(state?.services.web?.targets).toEqual({ green: [] });
    expect(lines).toEqual([
      {
        fields: expect.objectContaining({ file, service: 'web', field: 'targets.green[0]', value: '"a:99999"' }),
        msg: 'state file: ignoring services.web.targets.green[0] = "a:99999": port "99999" must be an integer 1-65535; left out, the stack\'s other targets are served',
      },
    ]);
    expect(store.problems).toHaveLength(1);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('still refuses a file that is not JSON, naming the file', async () => {
    const file = join(tempDir(), 'state.json');
    writeFileSync(file, '{"version": 1, ');
    await expect(new FileStateStore(file).load()).rejects.toThrow(StateFileError);
    await expect(new FileStateStore(file).load()).rejects.toThrow(file);
  });
});
