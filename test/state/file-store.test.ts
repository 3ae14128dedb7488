import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileStateStore, StateFileError } from '../../src/state/file-store.js';
import type { PersistedState } from '../../src/state/stored-state.js';
import { startSwitchyard, tempDir } from '../helpers/switchyard.js';

const state: PersistedState = {
  version: 1,
  services: { web: { generation: 3, weights: { blue: 0, green: 100 }, targets: { green: ['10.0.0.9:80'] }, history: [] } },
};

describe('FileStateStore', () => {
  it('answers undefined when there is no file, and round-trips a saved state', async () => {
    const store = new FileStateStore(join(tempDir(), 'sub', 'state.json'));
    expect(await store.load()).toBeUndefined();
    await store.save(state);
    expect(await store.load()).toEqual(state);
  });

  it.each([
    ['not JSON', '{"version": 1, '],
    ['wrong shape', JSON.stringify({ version: 2, services: {} })],
    // A bad entry inside a version-1 document is left out instead (test/state/stored-state.test.ts).
    ['services not an object', JSON.stringify({ version: 1, services: [] })],
  ])('refuses a corrupt file (%s) with StateFileError and leaves it untouched', async (_name, text) => {
    const file = join(tempDir(), 'state.json');
    writeFileSync(file, text);
    await expect(new FileStateStore(file).load()).rejects.toBeInstanceOf(StateFileError);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });
});

describe('Switchyard with a corrupt state file', () => {
  it('refuses to start and does not replace the file', async () => {
    const dir = tempDir();
    const file = join(dir, 'state.json');
    writeFileSync(file, 'garbage');
    const services = [
      { name: 'web', hosts: ['web.test'], active: 'blue', stacks: { blue: { targets: ['127.0.0.1:1'] }, green: { targets: ['127.0.0.1:2'] } } },
    ];
    // Started by mistake, it would be stopped after the test (startSwitchyard tracks it).
    await expect(startSwitchyard(services, {}, dir)).rejects.toBeInstanceOf(StateFileError);
    expect(readFileSync(file, 'utf8')).toBe('garbage');
  });
});
