import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { workerExecArgv } from '../../src/cluster/worker-heap.js';

describe('workerExecArgv', () => {
  it("adds V8's initial heap size to the primary's own flags", () => {
    expect(workerExecArgv(['--enable-source-maps'])).toEqual(['--enable-source-maps', '--initial-heap-size=64']);
  });

  it('keeps a heap size the operator chose', () => {
    expect(workerExecArgv(['--initial-heap-size=256'])).toEqual(['--initial-heap-size=256']);
    expect(workerExecArgv(['--initial-old-space-size=128'])).toEqual(['--initial-old-space-size=128']);
  });

  it('gives flags this node starts with (a worker forked with them is born)', () => {
    const flags = workerExecArgv([]);
    const run = spawnSync(process.execPath, [...flags, '-e', 'process.exit(7)']);
    expect(run.status).toBe(7);
  });
});
