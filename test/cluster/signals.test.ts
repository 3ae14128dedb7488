import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { defer } from '../helpers/cleanup.js';
import { freePort } from '../helpers/child-switchyard.js';
import { waitFor } from '../helpers/switchyard.js';
import { startUpstream } from '../helpers/upstream.js';
import { agentOnWorker, type Cluster, fetchAnswer, startCluster, untilBothWorkers } from './support.js';

const service = (target: string) => `  - name: web\n    stacks: { blue: { targets: ["${target}"] } }\n`;

/** Answers on fresh connections until both workers answered: worker → the bodies it sent. */
async function fromBothWorkers(port: number): Promise<Map<string, string>> {
  const seen = new Map<string, Set<string>>();
  for (const answer of await untilBothWorkers(() => fetchAnswer(port, false))) seen.set(answer.worker, (seen.get(answer.worker) ?? new Set()).add(answer.body));
  return new Map([...seen].map(([worker, bodies]) => [worker, [...bodies].join('|')]));
}

/** What fromBothWorkers finds when each worker answered `body` only. */
function bothAnswer(body: string): Map<string, string> {
  return new Map([
    ['1', body],
    ['2', body],
  ]);
}

function reloaded(sy: Cluster, count: number): () => boolean {
  return () => sy.logs().filter((l) => l.msg === 'config reloaded' || l.msg === 'config reload rejected; running config kept').length >= count;
}

describe('workers: signals', () => {
  it('SIGHUP reloads in the primary and every worker serves the new config; a reload that cannot bind is rejected whole', async () => {
    const one = await startUpstream('one');
    const two = await startUpstream('two');
    const sy = await startCluster(service(one.address));
    expect(await fromBothWorkers(sy.proxyPort)).toEqual(bothAnswer('one'));

    const extraPort = await freePort();
    const text = readFileSync(sy.configPath, 'utf8');
    writeFileSync(
      sy.configPath,
      text
        .replace(one.address, two.address)
        .replace('workers: 2', 'workers: 3')
        .replace('level: warn', 'level: info')
        .replace('listeners:\n', `listeners:\n  - { name: extra, port: ${extraPort}, address: 127.0.0.1 }\n`),
    );
    sy.child.kill('SIGHUP');
    await waitFor(reloaded(sy, 1));
    expect(sy.logs().find((l) => l.msg === 'config reload rejected; running config kept')).toBeUndefined();
    expect(await fromBothWorkers(sy.proxyPort)).toEqual(bothAnswer('two'));
    expect(await fromBothWorkers(extraPort)).toEqual(bothAnswer('two'));
    expect(sy.logs()).toContainEqual(expect.objectContaining({ key: 'workers', running: 2, new: 3 }));

    // A listener on a port another process holds: nothing of the reload applies, in any worker.
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    defer(() => holder.close());
    const taken = (holder.address() as { port: number }).port;
    writeFileSync(
      sy.configPath,
      readFileSync(sy.configPath, 'utf8')
        .replace(two.address, one.address)
        .replace('listeners:\n', `listeners:\n  - { name: taken, port: ${taken}, address: 127.0.0.1 }\n`),
    );
    sy.child.kill('SIGHUP');
    await waitFor(reloaded(sy, 2));
    expect(sy.logs().at(-1)).toMatchObject({ msg: 'config reload rejected; running config kept' });
    expect(await fromBothWorkers(sy.proxyPort)).toEqual(bothAnswer('two'));
    expect(await fromBothWorkers(extraPort)).toEqual(bothAnswer('two'));
  });

  it('SIGTERM lets in-flight requests on every worker finish, stops the workers and exits 0', async () => {
    const slow = await startUpstream('slow', (_req, res) => {
      setTimeout(() => res.writeHead(200).end('done'), 400);
    });
    const sy = await startCluster(service(slow.address));
    const pids = (await sy.workers()).workers.map((w) => w.pid);
    expect(pids).toHaveLength(2);
    // A connection on each worker, each with a request in flight when the signal comes.
    const agents = [await agentOnWorker(sy.proxyPort, '1'), await agentOnWorker(sy.proxyPort, '2')];
    const already = slow.requests.length;
    const inFlight = agents.map((agent) => fetchAnswer(sy.proxyPort, agent));
    await waitFor(() => slow.requests.length === already + 2);
    sy.child.kill('SIGTERM');
    const answers = await Promise.all(inFlight);
    expect(answers.map((a) => `${a.status}:${a.body}`)).toEqual(answers.map(() => '200:done'));
    expect(new Set(answers.map((a) => a.worker))).toEqual(new Set(['1', '2']));
    expect(await sy.exited).toBe(0);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });
});
