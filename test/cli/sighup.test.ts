import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { type ChildSwitchyard, startChild, writeChildConfig } from '../helpers/child-switchyard.js';
import { tempDir, waitFor } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let sy: ChildSwitchyard | undefined;
const upstreams: Upstream[] = [];
afterEach(async () => {
  sy?.child.kill('SIGKILL');
  await sy?.exited;
  sy = undefined;
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

/** The JSON log lines of the child so far. */
function logLines(child: ChildSwitchyard): Record<string, unknown>[] {
  return child
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('switchyard start, SIGHUP', () => {
  it('applies reloadable changes and logs each restart-only key it keeps', async () => {
    const blue = await startUpstream('blue');
    const green = await startUpstream('green');
    upstreams.push(blue, green);
    const { configPath, proxyPort, adminPort } = await writeChildConfig(tempDir(), `  - name: web\n    stacks: { blue: { targets: ["${blue.address}"] } }\n`);
    sy = await startChild(configPath, proxyPort, adminPort);
    expect(await (await fetch(`http://127.0.0.1:${proxyPort}/`)).text()).toBe('blue');

    // The target changes, logging.level goes from warn to info (so "config reloaded" shows), max_sockets is restart-only.
    const text = readFileSync(configPath, 'utf8')
      .replace(blue.address, green.address)
      .replace('level: warn', 'level: info')
      .replace('services:', 'upstream: { max_sockets: 8 }\nservices:');
    writeFileSync(configPath, text);
    sy.child.kill('SIGHUP');
    const child = sy;
    await waitFor(() => logLines(child).some((l) => l.msg === 'config reloaded'));

    expect(await (await fetch(`http://127.0.0.1:${proxyPort}/`)).text()).toBe('green');
    expect(logLines(child)).toContainEqual(
      expect.objectContaining({ key: 'upstream.max_sockets', running: 256, new: 8, msg: 'upstream.max_sockets changes only on restart: keeping 256, not 8' }),
    );
  });
});
