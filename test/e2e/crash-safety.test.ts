import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startChild, writeChildConfig } from '../helpers/child-switchyard.js';
import { tempDir } from '../helpers/switchyard.js';
import { startBlueGreen } from '../helpers/upstream.js';

async function blueGreen(): Promise<string> {
  const { blue, green } = await startBlueGreen();
  return `  - name: web\n    stacks: { blue: { targets: ["${blue.address}"] }, green: { targets: ["${green.address}"] } }\n`;
}

function switchTo(adminUrl: string, to: string): Promise<number> {
  return fetch(`${adminUrl}/v1/services/web/switch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ to }) }).then(
    (r) => r.status,
  );
}

const served = async (port: number): Promise<string> => (await fetch(`http://127.0.0.1:${port}/`)).text();

describe('crash safety', () => {
  it('after SIGKILL mid-switching, a restart serves the last acknowledged stack; the state file is never torn', async () => {
    const dir = tempDir();
    const { configPath, proxyPort, adminPort } = await writeChildConfig(dir, await blueGreen());
    let sy = await startChild(configPath, proxyPort, adminPort);
    let acked = 'blue';
    for (let cycle = 0; cycle < 3; cycle++) {
      const acks = 10 + Math.floor(Math.random() * 20);
      for (let i = 0; i < acks; i++) {
        const to = acked === 'blue' ? 'green' : 'blue';
        expect(await switchTo(sy.adminUrl, to)).toBe(200);
        acked = to;
      }
      // One more switch is on its way when the process dies: it was never acknowledged, so
      // either outcome is correct for it, but nothing older than the last acknowledged one is.
      const inFlight = acked === 'blue' ? 'green' : 'blue';
      const unacknowledged = switchTo(sy.adminUrl, inFlight).catch(() => 0);
      // Jitter, not a wait: the kill lands at a different point of the in-flight switch each cycle.
      await new Promise((r) => setTimeout(r, Math.random() * 3));
      sy.child.kill('SIGKILL');
      expect(await sy.exited).toBe('SIGKILL');
      const lastStatus = await unacknowledged;
      if (lastStatus === 200) acked = inFlight;
      const text = readFileSync(join(dir, 'state.json'), 'utf8');
      expect(text.length).toBeGreaterThan(0);
      const stored = JSON.parse(text) as { services: { web: { weights: Record<string, number> } } };
      const storedActive = stored.services.web.weights.blue === 100 ? 'blue' : 'green';
      expect([acked, inFlight]).toContain(storedActive);
      sy = await startChild(configPath, proxyPort, adminPort);
      const body = await served(proxyPort);
      expect(body).toBe(storedActive);
      if (lastStatus === 200) expect(body).toBe(acked);
      acked = body;
    }
  });

  it('refuses to start on a corrupt state file, exits non-zero naming it, and leaves it byte for byte', async () => {
    const dir = tempDir();
    const { configPath } = await writeChildConfig(dir, await blueGreen());
    const statePath = join(dir, 'state.json');
    const garbage = '{"version": 1, "services": {"web": {"weights": ';
    writeFileSync(statePath, garbage);
    const result = await runCli(['start', '--config', configPath]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(statePath);
    expect(readFileSync(statePath, 'utf8')).toBe(garbage);
  });
});
