import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { startSwitchyard, tempDir } from '../helpers/switchyard.js';
import { runCli as run } from '../helpers/child-switchyard.js';
import { startBlueGreen, startUpstream } from '../helpers/upstream.js';

let app: Switchyard | undefined;

describe('switchyard CLI', () => {
  it('switches, splits, rolls back, replaces targets and prints status as JSON', async () => {
    const { blue, green, services } = await startBlueGreen();
    app = await startSwitchyard(services);
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
