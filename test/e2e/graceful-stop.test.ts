import { Agent, type ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { defer } from '../helpers/cleanup.js';
import { startChild, writeChildConfig } from '../helpers/child-switchyard.js';
import { get } from '../helpers/http.js';
import { tryConnect } from '../helpers/raw-http.js';
import { tempDir, waitFor } from '../helpers/switchyard.js';
import { startUpstream } from '../helpers/upstream.js';

describe('graceful stop (SIGTERM)', () => {
  it('turns /healthz 503 at once, finishes in-flight requests, refuses new connections, exits 0', async () => {
    let held: ServerResponse | undefined;
    const slow = await startUpstream('', (_req, res) => (held = res));
    const services = `  - name: web\n    stacks: { blue: { targets: ["${slow.address}"] } }\n`;
    // Keep-alive and shutdown timeouts far beyond the test's: an exit that waited for either would time the test out.
    const { configPath, proxyPort, adminPort } = await writeChildConfig(tempDir(), services, 'shutdown_timeout: 30s\nlimits: { keepalive_timeout: 30s }');
    const sy = await startChild(configPath, proxyPort, adminPort);
    // A keep-alive client: after its answer the connection stays open and idle.
    const agent = new Agent({ keepAlive: true });
    defer(() => agent.destroy());
    const inFlight = get(proxyPort, { agent });
    await waitFor(() => held !== undefined);
    sy.child.kill('SIGTERM');
    const health = () =>
      fetch(`${sy.adminUrl}/healthz`).then(
        (r) => r.status,
        () => 0,
      );
    await waitFor(async () => (await health()) !== 200, 5000, '/healthz no longer 200');
    expect(await health()).toBe(503);
    expect(await tryConnect(proxyPort)).toBe('ECONNREFUSED');
    held?.end('finished');
    const reply = await inFlight;
    expect({ status: reply.status, body: reply.body }).toEqual({ status: 200, body: 'finished' });
    // Right after the in-flight request, not after the 30 s keep-alive timeout (10 s: loose for a loaded box).
    await waitFor(() => sy.child.exitCode !== null || sy.child.signalCode !== null, 10_000, 'exit after the last answer');
    expect(await sy.exited).toBe(0);
  });
});
