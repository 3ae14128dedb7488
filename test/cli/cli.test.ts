import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { startSwitchyard, tempDir } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const CLI = join(import.meta.dirname, '../../dist/cli/main.js');

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, SWITCHYARD_ADMIN_TOKEN: '' } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

let app: Switchyard | undefined;
const upstreams: Upstream[] = [];
afterEach(async () => {
  await app?.stop(0);
  app = undefined;
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

describe('switchyard CLI', () => {
  it('switches, splits, rolls back, replaces targets and prints status as JSON', async () => {
    const blue = await startUpstream('blue');
    const green = await startUpstream('green');
    upstreams.push(blue, green);
    app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [blue.address] }, green: { targets: [green.address] } } }]);
    const admin = ['--admin', app.adminUrl];
    expect((await run([...admin, 'switch', 'web', 'green'])).code).toBe(0);
    expect(app.controller.service('web').active.name).toBe('green');
    expect((await run([...admin, 'weights', 'web', 'blue=50', 'green=50'])).code).toBe(0);
    expect(app.controller.service('web').weights).toEqual([50, 50]);
    expect((await run([...admin, 'rollback', 'web'])).code).toBe(0);
    expect(app.controller.service('web').weights).toEqual([0, 100]);
    expect((await run([...admin, 'targets', 'web', 'blue', blue.address, green.address])).code).toBe(0);
    const status = await run([...admin, 'status', 'web', '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).stacks.blue.targets).toHaveLength(2);
  });

  it('exits 1 with the API message on a refused call and 2 on bad usage', async () => {
    const blue = await startUpstream('blue');
    upstreams.push(blue);
    app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [blue.address] }, green: { targets: [] } } }]);
    const refused = await run(['--admin', app.adminUrl, 'switch', 'web', 'green']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('STACK_UNHEALTHY');
    expect((await run(['--admin', app.adminUrl, 'weights', 'web', 'blue=lots'])).code).toBe(2);
    expect((await run(['frobnicate'])).code).toBe(2);
  });

  it('check-config exits 0 on a good file and 2 listing paths on a broken one', async () => {
    const dir = tempDir();
    const good = join(dir, 'good.yaml');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(good, 'listeners: [{ name: http, port: 9000 }]\nservices:\n  - name: s\n    stacks: { blue: { targets: ["127.0.0.1:1"] } }\n');
    writeFileSync(bad, 'listeners: [{ name: http, port: 9000 }]\nservices:\n  - name: s\n    stacks: { blue: { targets: ["127.0.0.1:1", "nope"] } }\n');
    expect((await run(['check-config', '--config', good])).code).toBe(0);
    const broken = await run(['check-config', '--config', bad]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain('services[0].stacks.blue.targets[1]: must be host:port');
  });
});
