import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, writeChildConfig } from '../helpers/child-switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const upstreams: Upstream[] = [];
afterEach(async () => {
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

function get(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, agent: false, method: 'POST', headers: { 'content-length': '2' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end('hi');
  });
}

describe('forwarding engine under --pending-deprecation --throw-deprecation', () => {
  it('starts, proxies a request through the llhttp binding and stops cleanly: no runtime deprecation on the path', async () => {
    const up = await startUpstream('through');
    upstreams.push(up);
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-deprecation-'));
    const { configPath, proxyPort, adminPort } = await writeChildConfig(dir, `  - name: web\n    stacks: { blue: { targets: ["${up.address}"] } }\n`);
    const child = spawn(process.execPath, ['--pending-deprecation', '--throw-deprecation', CLI, 'start', '--config', configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
    try {
      for (;;) {
        if (child.exitCode !== null) throw new Error(`switchyard exited with ${child.exitCode}: ${output}`);
        const ok = await fetch(`http://127.0.0.1:${adminPort}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await get(proxyPort)).toEqual({ status: 200, body: 'through' });
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(output).not.toContain('DeprecationWarning');
  });
});
