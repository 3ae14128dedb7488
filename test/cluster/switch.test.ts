import type { Agent } from 'node:http';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/switchyard.js';
import { startBlueGreen } from '../helpers/upstream.js';
import { agentOnWorker, untilBothWorkers, type Answer, type Flip, fetchAnswer, startCluster, staleAnswers, webService } from './support.js';

describe('workers: the switch guarantee', () => {
  it('flips under keep-alive load spread over 2 workers: no failed request, no answer from the old stack after the acknowledgement', async () => {
    const { blue, green } = await startBlueGreen();
    // Test hook: every worker applies each push 150 ms late, so an answer sent before all acknowledged would show.
    const sy = await startCluster(webService(blue.address, green.address), { env: { SWITCHYARD_TEST_PUSH_DELAY: '150' } });
    // Eight keep-alive connections, four on each worker, open before the first flip.
    const agents: Agent[] = [];
    for (const worker of ['1', '2', '1', '2', '1', '2', '1', '2']) agents.push(await agentOnWorker(sy.proxyPort, worker));
    const answers: Answer[] = [];
    const failures: string[] = [];
    let running = true;
    const client = async (agent: Agent) => {
      while (running) {
        try {
          answers.push(await fetchAnswer(sy.proxyPort, agent));
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const clients = agents.map(client);
    await waitFor(() => answers.length > 16);
    const flips: Flip[] = [];
    let to = 'green';
    for (let i = 0; i < 10; i++) {
      const sent = performance.now();
      const { status } = await sy.call('POST', '/v1/services/web/switch', { to });
      flips.push({ to, sent, acked: performance.now(), status });
      to = to === 'green' ? 'blue' : 'green';
      await new Promise((r) => setTimeout(r, 20));
    }
    running = false;
    await Promise.all(clients);

    expect(failures).toEqual([]);
    expect(flips.map((f) => f.status)).toEqual(flips.map(() => 200));
    const counted = answers.filter((a) => a.startedAt > (flips[0]?.sent ?? 0));
    // Both workers served through the flips, on the same eight connections.
    expect(new Set(counted.map((a) => a.worker))).toEqual(new Set(['1', '2']));
    expect(new Set(counted.map((a) => a.socket)).size).toBe(8);
    expect(counted.length).toBeGreaterThan(100);
    expect(staleAnswers(counted, flips, 'blue')).toEqual([]);
    // Every worker has applied the last generation.
    const { workers } = await sy.workers();
    const { generation } = (await sy.call('GET', '/v1/services')).json as { generation: number };
    expect(workers.map((w) => w.generation)).toEqual([generation, generation]);
  });

  it('replaces a worker that does not acknowledge within 2 s; the switch still answers and no worker serves the old stack after it', async () => {
    const { blue, green } = await startBlueGreen();
    // Test hook: worker 1's first process takes routing pushes without applying or acknowledging them, and goes on serving.
    const sy = await startCluster(webService(blue.address, green.address), { env: { SWITCHYARD_TEST_STALL_WORKER: '1' } });
    const before = await sy.workers();
    const stalled = before.workers.find((w) => w.id === 1);
    const sent = performance.now();
    const { status } = await sy.call('POST', '/v1/services/web/switch', { to: 'green' });
    const took = performance.now() - sent;
    expect(status).toBe(200);
    expect(took).toBeGreaterThanOrEqual(2000);
    // Right after the answer, every connection is served green: the stalled worker was gone before it.
    const answers = await Promise.all(Array.from({ length: 10 }, () => fetchAnswer(sy.proxyPort, false)));
    expect(answers.map((a) => a.body)).toEqual(answers.map(() => 'green'));
    expect(sy.logs()).toContainEqual(expect.objectContaining({ worker: 1, msg: expect.stringContaining('did not acknowledge routing generation') }));
    await waitFor(async () => (await sy.workers()).workers.some((w) => w.id === 1 && w.state === 'ready' && w.pid !== stalled?.pid));
    const after = await sy.workers();
    expect(after.workers.find((w) => w.id === 1)).toMatchObject({ restarts: 1 });
    // The replacement started from the current state.
    const served = await untilBothWorkers(() => fetchAnswer(sy.proxyPort, false), 6);
    expect(served.map((a) => a.body)).toEqual(served.map(() => 'green'));
  });
});
