import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startChild, writeChildConfig, type ChildSwitchyard } from '../helpers/child-switchyard.js';
import { tempDir } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let sy: ChildSwitchyard | undefined;
const upstreams: Upstream[] = [];
afterEach(async () => {
  sy?.child.kill('SIGKILL');
  await sy?.exited;
  sy = undefined;
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

const refused = (port: number) =>
  new Promise<string>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });

describe('graceful stop (SIGTERM)', () => {
  it('turns /healthz 503 at once, finishes in-flight requests, refuses new connections, exits 0', async () => {
    const slow = await startUpstream('', (_req, res) => setTimeout(() => res.end('finished'), 800));
    upstreams.push(slow);
    const services = `  - name: web\n    stacks: { blue: { targets: ["${slow.address}"] } }\n`;
    const { configPath, proxyPort, adminPort } = await writeChildConfig(tempDir(), services, 'shutdown_timeout: 5s');
    sy = await startChild(configPath, proxyPort, adminPort);
    const inFlight = fetch(`http://127.0.0.1:${proxyPort}/`).then(async (r) => ({ status: r.status, body: await r.text() }));
    await new Promise((r) => setTimeout(r, 200)); // the request is at the upstream now
    const signalled = Date.now();
    sy.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    const health = await fetch(`${sy.adminUrl}/healthz`).then(
      (r) => r.status,
      () => 0,
    );
    expect(health).toBe(503);
    expect(await refused(proxyPort)).toBe('ECONNREFUSED');
    expect(await inFlight).toEqual({ status: 200, body: 'finished' });
    expect(await sy.exited).toBe(0);
    // Right after the in-flight request, not after the client keep-alive timeout (5 s).
    expect(Date.now() - signalled).toBeLessThan(2500);
  });
});
