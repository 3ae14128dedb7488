import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, freePort, startChild, writeChildConfig, type ChildSwitchyard } from '../helpers/child-switchyard.js';
import { tempDir, waitFor } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// Issue 11: one admin call crashed the proxy for good. Every test runs `switchyard start`
// as a real child process and checks it is still there (and serving) afterwards.

const children: ChildSwitchyard[] = [];
const upstreams: Upstream[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
    await c.exited;
  }
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function upstream(body: string): Promise<Upstream> {
  const started = await startUpstream(body);
  upstreams.push(started);
  return started;
}

async function start(dir: string, services: string, extra = ''): Promise<ChildSwitchyard> {
  const { configPath, proxyPort, adminPort } = await writeChildConfig(dir, services, extra);
  const child = await startChild(configPath, proxyPort, adminPort);
  children.push(child);
  return child;
}

const json = { 'content-type': 'application/json' };
const served = async (sy: ChildSwitchyard): Promise<string> => (await fetch(`http://127.0.0.1:${sy.proxyPort}/`)).text();
const service = async (sy: ChildSwitchyard) => {
  const response = await fetch(`${sy.adminUrl}/v1/services/web`);
  return {
    etag: response.headers.get('etag'),
    body: (await response.json()) as { generation: number; active: string; stacks: Record<string, { targets: { address: string }[] }> },
  };
};
const putTargets = (sy: ChildSwitchyard, stack: string, targets: string[]) =>
  fetch(`${sy.adminUrl}/v1/services/web/stacks/${stack}/targets`, { method: 'PUT', headers: json, body: JSON.stringify({ targets }) });
const switchTo = (sy: ChildSwitchyard, to: string) =>
  fetch(`${sy.adminUrl}/v1/services/web/switch`, { method: 'POST', headers: json, body: JSON.stringify({ to }) });

/** Still running, and its admin API answers. */
async function expectAlive(sy: ChildSwitchyard): Promise<void> {
  expect(sy.child.exitCode, sy.output()).toBeNull();
  expect(sy.child.signalCode, sy.output()).toBeNull();
  expect((await fetch(`${sy.adminUrl}/healthz`)).status).toBe(200);
}

const checked = (blue: Upstream, green: Upstream) =>
  '  - name: web\n' +
  '    health_check: { path: /health, interval: 100ms, response_timeout: 1s, healthy_threshold: 1, unhealthy_threshold: 1 }\n' +
  `    stacks: { blue: { targets: ["${blue.address}"] }, green: { targets: ["${green.address}"] } }\n`;
const unchecked = (blue: Upstream, green: Upstream) =>
  `  - name: web\n    stacks: { blue: { targets: ["${blue.address}"] }, green: { targets: ["${green.address}"] } }\n`;

describe('crash proofing (issue 11)', () => {
  it('the targets API refuses a bad target with 400 INVALID_TARGET naming it; nothing is stored, the generation stays, the health checker lives on', async () => {
    const dir = tempDir();
    const blue = await upstream('blue');
    const green = await upstream('green');
    const sy = await start(dir, checked(blue, green));
    const before = await service(sy);
    for (const bad of ['a:99999', '127.0.0.1:0', '::1:8080', 'bad_host:80', '[10.0.0.1]:80', '1.2.3.999:80', 'a:8o']) {
      const response = await putTargets(sy, 'green', [green.address, bad]);
      const { error } = (await response.json()) as { error: { code: string; message: string } };
      expect(response.status, bad).toBe(400);
      expect(error.code).toBe('INVALID_TARGET');
      expect(error.message).toContain(`targets[1] ${JSON.stringify(bad)}`);
    }
    const after = await service(sy);
    expect(after.etag).toBe(before.etag);
    expect(after.body.stacks.green?.targets.map((t) => t.address)).toEqual([green.address]);
    expect(existsSync(join(dir, 'state.json'))).toBe(false);
    expect(await served(sy)).toBe('blue');
    await expectAlive(sy);
  });

  it('without a health check, a bad target never reaches the request path', async () => {
    const blue = await upstream('blue');
    const green = await upstream('green');
    const sy = await start(tempDir(), unchecked(blue, green));
    expect((await putTargets(sy, 'blue', ['127.0.0.1:99999'])).status).toBe(400);
    expect(await served(sy)).toBe('blue');
    expect(await served(sy)).toBe('blue');
    await expectAlive(sy);
  });

  it('a bad entry put into the state file by hand is left out with a log line naming it; the start succeeds and the rest is served', async () => {
    const dir = tempDir();
    const blue = await upstream('blue');
    const green = await upstream('green');
    const change = {
      time: '2026-01-01T00:00:00.000Z',
      from: { blue: 100, green: 0 },
      to: { blue: 0, green: 100 },
      reason: 'switch',
      actor: 'admin',
      generation: 7,
    };
    const text = `${JSON.stringify({
      version: 1,
      services: {
        web: {
          generation: 7,
          weights: { blue: 0, green: 100, canary: -3 },
          targets: { green: ['a:99999', green.address, '127.0.0.1:0'] },
          history: [{ time: 5 }, change],
        },
      },
    })}\n`;
    writeFileSync(join(dir, 'state.json'), text);
    const sy = await start(dir, checked(blue, green));
    for (const line of [
      'services.web.targets.green[0] = \\"a:99999\\"',
      'services.web.targets.green[2] = \\"127.0.0.1:0\\"',
      'services.web.weights.canary = -3',
      'services.web.history[0] = {\\"time\\":5}',
    ]) {
      await waitFor(() => sy.output().includes(line)).catch(() => expect(sy.output()).toContain(line));
    }
    const { etag, body } = await service(sy);
    expect(etag).toBe('"7"');
    expect(body.active).toBe('green');
    expect(body.stacks.green?.targets.map((t) => t.address)).toEqual([green.address]);
    expect(await served(sy)).toBe('green');
    // Loading never writes: the file is as the operator left it until the next change.
    expect(readFileSync(join(dir, 'state.json'), 'utf8')).toBe(text);
    expect((await fetch(`${sy.adminUrl}/v1/services/web/history`).then((r) => r.json())) as unknown).toMatchObject({ history: [change] });
    await expectAlive(sy);
  });

  it('webhooks that refuse, reset, hang or break off mid-answer never take the process down', async () => {
    const counts = { reset: 0, hang: 0, broken: 0 };
    const hold: Socket[] = [];
    const listen = async (behave: (socket: Socket) => void): Promise<string> => {
      const server = createServer((socket) => {
        socket.on('error', () => socket.destroy());
        behave(socket);
      });
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
    };
    const refused = `http://127.0.0.1:${await freePort()}/hook`;
    const reset = await listen((socket) => {
      counts.reset++;
      socket.resetAndDestroy();
    });
    const hang = await listen((socket) => {
      counts.hang++;
      hold.push(socket);
    });
    const broken = await listen((socket) => {
      counts.broken++;
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
        setImmediate(() => socket.resetAndDestroy());
      });
    });
    const blue = await upstream('blue');
    const green = await upstream('green');
    const sy = await start(tempDir(), unchecked(blue, green), `hooks: { on_switch: ["${refused}", "${reset}", "${hang}", "${broken}"] }`);
    expect((await switchTo(sy, 'green')).status).toBe(200);
    expect((await switchTo(sy, 'blue')).status).toBe(200);
    // Every try of both deliveries: 3 resets each; the hung one timed out (2 s) and was tried again.
    await waitFor(() => counts.reset >= 6 && counts.hang >= 4 && counts.broken >= 2, 15_000);
    for (const socket of hold) socket.destroy();
    expect(await served(sy)).toBe('blue');
    await expectAlive(sy);
  });

  it('a demo backend whose port is taken is skipped with a log line; the start succeeds', async () => {
    const taken = await upstream('blue');
    const free = `127.0.0.1:${await freePort()}`;
    const sy = await start(
      tempDir(),
      `  - name: web\n    stacks: { blue: { targets: ["${taken.address}"] }, green: { targets: ["${free}"] } }\n`,
      'demo_backends: true',
    );
    await waitFor(() => sy.output().includes('demo backend cannot listen')).catch(() => expect(sy.output()).toContain('demo backend cannot listen'));
    expect(sy.output()).toContain(taken.address);
    expect(await served(sy)).toBe('blue');
    expect((await switchTo(sy, 'green')).status).toBe(200);
    expect(await served(sy)).toBe('hello from green\n');
    await expectAlive(sy);
  });

  it('an exception nothing guards is logged as fatal and the process exits non-zero (for its supervisor), never limps on', async () => {
    const blue = await upstream('blue');
    const green = await upstream('green');
    const { configPath, adminPort } = await writeChildConfig(tempDir(), unchecked(blue, green));
    // The planted fault: a throw from a signal listener, i.e. from no call site switchyard guards.
    const plant = pathToFileURL(join(import.meta.dirname, '../fixtures/throw-on-sigusr2.mjs')).href;
    const child = spawn(process.execPath, ['--import', plant, CLI, 'start', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
    children.push({ child, proxyPort: 0, adminUrl: '', configPath, output: () => output, exited });
    await waitFor(() =>
      fetch(`http://127.0.0.1:${adminPort}/healthz`).then(
        (r) => r.ok,
        () => false,
      ),
    );
    child.kill('SIGUSR2');
    expect(await exited).toBe(1);
    expect(output).toMatch(/"level":60[^\n]*uncaught exception; exiting/);
    expect(output).toContain('planted failure');
  });
});
