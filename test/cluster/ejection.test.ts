import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/switchyard.js';
import { startUpstream } from '../helpers/upstream.js';
import { agentOnWorker, fetchAnswer, startCluster } from './support.js';

interface ServiceJson {
  stacks: Record<string, { targets: { address: string; available: boolean; ejected_until: string | null }[] }>;
}

describe('workers: passive ejection', () => {
  it('a target ejected by one worker is taken out by every worker and shown by the primary', async () => {
    const good = await startUpstream('good');
    // It fails only once the test's connection to worker 1 is found: the requests that look
    // for it land on either worker, and failures among them could eject it before the test looks.
    let failing = false;
    const bad = await startUpstream('bad', (_req, res) => (failing ? res.writeHead(500).end('broken') : res.end('bad')));
    const services = `  - name: web\n    stacks: { blue: { targets: ["${good.address}", "${bad.address}"] } }\n`;
    const sy = await startCluster(services, { extra: 'upstream: { max_fails: 2, fail_timeout: 60s }\n' });

    // Only worker 1 sees the failures: one keep-alive connection on it, round robin over both targets.
    const onOne = await agentOnWorker(sy.proxyPort, '1');
    failing = true;
    let failures = 0;
    for (let i = 0; i < 20 && failures < 2; i++) if ((await fetchAnswer(sy.proxyPort, onOne)).status === 500) failures++;
    expect(failures).toBe(2);
    await waitFor(
      async () => {
        const service = (await sy.call('GET', '/v1/services/web')).json as ServiceJson;
        return service.stacks.blue?.targets.find((t) => t.address === bad.address)?.ejected_until !== null;
      },
      5000,
      'the primary shows the ejection',
    );

    // Worker 2 never failed on it, and sends it nothing.
    const seenByBad = bad.requests.length;
    const onTwo = await agentOnWorker(sy.proxyPort, '2');
    const answers = await Promise.all(Array.from({ length: 10 }, () => fetchAnswer(sy.proxyPort, onTwo)));
    expect(answers.map((a) => `${a.worker}:${a.status}:${a.body}`)).toEqual(answers.map(() => '2:200:good'));
    expect(bad.requests.length).toBe(seenByBad);
  });
});
