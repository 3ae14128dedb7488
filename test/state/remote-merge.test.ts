import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import type { ServiceState } from '../../src/routing/service-state.js';
import { carryOver } from '../../src/state/reconcile.js';
import { mergeStored } from '../../src/state/remote-merge.js';
import type { VersionedState } from '../../src/state/state-store.js';
import { tempDir } from '../helpers/switchyard.js';

const log = pino({ level: 'silent' });
const dir = tempDir();
const config = validateConfig({
  listeners: [{ name: 'http', port: 0 }],
  state: { path: join(dir, 'state.json') },
  certs_dir: join(dir, 'certs'),
  services: [
    { name: 'web', hosts: ['web.test'], stacks: { blue: { targets: ['127.0.0.1:1'] }, green: { targets: ['127.0.0.1:2'] } } },
    { name: 'api', hosts: ['api.test'], stacks: { blue: { targets: ['127.0.0.1:3'] }, green: { targets: ['127.0.0.1:4'] } } },
  ],
});

function state(generation: number, blue: number, green: number): ServiceState {
  return { generation, weights: { blue, green }, targets: {}, history: [] };
}

function stored(version: number, value: ServiceState): VersionedState {
  return { state: value, version };
}

describe('mergeStored', () => {
  const states = new Map([['web', state(3, 100, 0)]]);
  const versions = new Map([['web', 10]]);

  it('newer: applies only a version above this instance’s, leaving the inputs untouched', () => {
    const older = mergeStored(config, states, versions, new Map([['web', stored(10, state(4, 0, 100))]]), 'newer', log);
    expect(older.changed).toEqual([]);
    const newer = mergeStored(config, states, versions, new Map([['web', stored(11, state(4, 0, 100))]]), 'newer', log);
    expect(newer.changed.map((c) => c.name)).toEqual(['web']);
    expect(newer.states.get('web')?.weights).toEqual({ blue: 0, green: 100 });
    expect(newer.versions.get('web')).toBe(11);
    expect(states.get('web')?.generation).toBe(3);
    expect(versions.get('web')).toBe(10);
  });

  it('current: the store wins whenever its version differs, lower or not', () => {
    const merged = mergeStored(config, states, versions, new Map([['web', stored(7, state(2, 0, 100))]]), 'current', log);
    expect(merged.changed.map((c) => c.name)).toEqual(['web']);
    expect(merged.versions.get('web')).toBe(7);
  });

  it('moves only the version when the stored state is the one already served', () => {
    const merged = mergeStored(config, states, versions, new Map([['web', stored(12, state(3, 100, 0))]]), 'newer', log);
    expect(merged.changed).toEqual([]);
    expect(merged.versions.get('web')).toBe(12);
  });

  it('all: a configured service the store no longer holds goes back to the config; undeclared services are left alone', () => {
    const merged = mergeStored(config, states, versions, new Map([['other', stored(20, state(1, 100, 0))]]), 'all', log);
    expect(merged.changed).toEqual([{ name: 'web', stored: undefined }]);
    expect(merged.states.has('web')).toBe(false);
    expect(merged.versions.has('web')).toBe(false);
    expect(merged.states.has('other')).toBe(false);
  });
});

describe('carryOver', () => {
  it('keeps this instance’s state, takes what the store knows of a service new here, and fits both to the config', () => {
    const known = new Map([
      ['web', stored(50, state(9, 0, 100))],
      ['api', stored(40, { ...state(2, 0, 100), weights: { green: 100, gone: 5 } })],
    ]);
    const carried = carryOver(config, new Map([['web', state(3, 100, 0)]]), new Map([['web', 10]]), (name) => known.get(name), log);
    expect(carried.states.get('web')?.generation).toBe(3);
    expect(carried.versions.get('web')).toBe(10);
    expect(carried.states.get('api')?.weights).toEqual({ blue: 0, green: 100 });
    expect(carried.versions.get('api')).toBe(40);
  });

  it('leaves out services with neither a state here nor one in the store', () => {
    const carried = carryOver(config, new Map(), new Map(), () => undefined, log);
    expect(carried.states.size).toBe(0);
    expect(carried.versions.size).toBe(0);
  });
});
