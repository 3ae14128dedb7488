import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { runCli, writeChildConfig } from '../helpers/child-switchyard.js';
import { tempDir, waitFor } from '../helpers/switchyard.js';
import { startBlueGreen } from '../helpers/upstream.js';
import { agentOnWorker, fetchAnswer, startCluster, untilBothWorkers, webService } from './support.js';

describe('workers: a worker that dies', () => {
  it('is respawned after kill -9 and serves the current snapshot; requests on the other worker never fail', async () => {
    const { blue, green } = await startBlueGreen();
    const sy = await startCluster(webService(blue.address, green.address));
    const onTwo = await agentOnWorker(sy.proxyPort, '2');
    const victim = (await sy.workers()).workers.find((w) => w.id === 1);
    expect(victim?.state).toBe('ready');

    const failures: string[] = [];
    const served: string[] = [];
    let running = true;
    const load = (async () => {
      while (running) {
        try {
          const answer = await fetchAnswer(sy.proxyPort, onTwo);
          served.push(`${answer.worker}:${answer.status}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    })();
    await waitFor(() => served.length > 20);
    process.kill(victim?.pid ?? 0, 'SIGKILL');
    // Switch while worker 1 is dead or starting again: its new process must start from this.
    expect((await sy.call('POST', '/v1/services/web/switch', { to: 'green' })).status).toBe(200);
    await waitFor(async () => (await sy.workers()).workers.some((w) => w.id === 1 && w.state === 'ready' && w.pid !== victim?.pid), 5000, 'worker 1 respawned');
    const before = served.length;
    await waitFor(() => served.length > before + 20);
    running = false;
    await load;

    expect(failures).toEqual([]);
    expect(new Set(served)).toEqual(new Set(['2:200']));
    expect(sy.logs()).toContainEqual(expect.objectContaining({ worker: 1, pid: victim?.pid, signal: 'SIGKILL', msg: 'worker died; respawning' }));
    const { generation } = (await sy.call('GET', '/v1/services')).json as { generation: number };
    const { workers } = await sy.workers();
    expect(workers.find((w) => w.id === 1)).toMatchObject({ state: 'ready', generation, restarts: 1 });
    const onOne = await agentOnWorker(sy.proxyPort, '1');
    expect((await fetchAnswer(sy.proxyPort, onOne)).body).toBe('green');
    // New connections go to both workers again, and all of them succeed.
    const fresh = await untilBothWorkers(() => fetchAnswer(sy.proxyPort, false), 8);
    expect(fresh.map((a) => `${a.status}:${a.body}`)).toEqual(fresh.map(() => '200:green'));
    const metrics = await (await fetch(`${sy.adminUrl}/metrics`)).text();
    expect(metrics).toContain('switchyard_worker_restarts_total{reason="exited"} 1');
    expect(metrics).toContain('switchyard_workers 2');
    // `switchyard status` shows both workers, the respawned one with its restart.
    const status = await runCli(['status', '--admin', sy.adminUrl]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('workers: 2 (scheduling none)');
    expect(status.stdout).toMatch(new RegExp(`worker 1 +pid \\d+  ready  generation=${generation}  requests=\\d+  up \\d+s  restarts=1`));
    expect(status.stdout).toMatch(
      new RegExp(`worker 2 +pid ${workers.find((w) => w.id === 2)?.pid}  ready  generation=${generation}  requests=\\d+  up \\d+s  restarts=0`),
    );
  });

  it('fails the start with the listener error when the port is taken (exit 1)', async () => {
    const { blue, green } = await startBlueGreen();
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    const { configPath, proxyPort } = await writeChildConfig(tempDir(), webService(blue.address, green.address), 'workers: 2\n');
    writeFileSync(configPath, readFileSync(configPath, 'utf8').replace(`port: ${proxyPort}`, `port: ${port}`));
    const result = await runCli(['start', '--config', configPath]);
    holder.close();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`cannot listen on 127.0.0.1:${port}`);
  });
});
