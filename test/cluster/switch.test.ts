import { Agent } from 'node:http';
import { describe, expect, it } from 'vitest';
import { defer } from '../helpers/cleanup.js';
import { waitFor } from '../helpers/switchyard.js';
import { startBlueGreen } from '../helpers/upstream.js';
import { type Answer, type Flip, fetchAnswer, startCluster, staleAnswers, webService } from './support.js';

describe('workers: the switch guarantee', () => {
  it('flips under keep-alive load spread over 2 workers: no failed request, no answer from the old stack after the acknowledgement', async () => {
    const { blue, green } = await startBlueGreen();
    // Test hook: every worker applies each push 150 ms late, so an answer sent before all acknowledged would show.
    const sy = await startCluster(webService(blue.address, green.address), { env: { SWITCHYARD_TEST_PUSH_DELAY: '150' } });
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    defer(() => agent.destroy());
    const answers: Answer[] = [];
    const failures: string[] = [];
    let running = true;
    const client = async () => {
      while (running) {
        try {
          answers.push(await fetchAnswer(sy.proxyPort, agent));
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const clients = Array.from({ length: 8 }, client);
    // The keep-alive connections are open and spread before the first flip.
    await waitFor(() => new Set(answers.map((a) => a.worker)).size === 2, 5000, 'answers from both workers');
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
    // Both workers served through the flips, on reused connections.
    expect(new Set(counted.map((a) => a.worker))).toEqual(new Set(['1', '2']));
    expect(new Set(counted.map((a) => a.socket)).size).toBeLessThanOrEqual(8);
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
    const served = await Promise.all(Array.from({ length: 6 }, () => fetchAnswer(sy.proxyPort, false)));
    expect(new Set(served.map((a) => a.worker))).toEqual(new Set(['1', '2']));
    expect(served.map((a) => a.body)).toEqual(served.map(() => 'green'));
  });
});
