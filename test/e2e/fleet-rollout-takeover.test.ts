import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { SwitchyardEvent } from '../../src/events/bus.js';
import { type EtcdCluster, etcdAvailable, startEtcd } from '../helpers/etcd.js';
import { blueGreenServices, FleetInstance } from '../helpers/fleet.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const hasEtcd = etcdAvailable(import.meta.filename);

/** One event as an instance's /v1/events stream delivered it, with when it arrived. */
interface Seen {
  readonly event: SwitchyardEvent;
  readonly at: number;
}

/** Collects every event of `instance`'s stream from now on. */
async function follow(instance: FleetInstance): Promise<{ seen: Seen[]; close: () => void }> {
  const seen: Seen[] = [];
  const ws = new WebSocket(`ws://127.0.0.1:${instance.adminPort}/v1/events`);
  ws.on('message', (m) => seen.push({ event: JSON.parse(m.toString()) as SwitchyardEvent, at: performance.now() }));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return { seen, close: () => ws.terminate() };
}

/** The rollout events an instance published itself (a fleet does not relay them): the rollout steps it drove. */
function driven(seen: readonly Seen[]): Seen[] {
  return seen.filter((s) => s.event.type === 'rollout');
}

/** In a fleet one instance drives a rollout, the holder of its etcd lease lock; another takes over when it dies. */
describe.skipIf(!hasEtcd)('fleet: a rollout outlives the instance driving it', () => {
  let etcd: EtcdCluster;
  let dir: string;
  let blue: Upstream;
  let green: Upstream;
  let fleet: FleetInstance[] = [];

  beforeAll(async () => {
    etcd = await startEtcd();
    dir = mkdtempSync(join(tmpdir(), 'switchyard-takeover-'));
    blue = await startUpstream('blue');
    green = await startUpstream('green');
    const services = blueGreenServices(blue.address, green.address);
    fleet = await Promise.all(['a', 'b', 'c'].map((id) => FleetInstance.create({ id, dir, endpoints: etcd.endpoints, prefix: '/takeover/', services })));
    await Promise.all(fleet.map((instance) => instance.start()));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(fleet.map((instance) => instance.kill()));
    await Promise.all([blue, green].map((upstream) => upstream?.close()));
    await etcd?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is driven by the instance it was started on alone, and after a kill -9 of it by one other instance, each step once', async () => {
    const [a, b, c] = fleet as [FleetInstance, FleetInstance, FleetInstance];
    const [onB, onC] = await Promise.all([follow(b), follow(c)]);
    const steps = [{ weight: 20 }, { pause: '2s' }, { weight: 50 }, { pause: '4s' }, { weight: 100 }];
    const started = await a.admin('POST', '/v1/services/web/rollouts', { to: 'green', steps });
    expect(started.status, JSON.stringify(started.body)).toBe(201);

    // A drives the first three steps (the pause between them ended by A too): B and C only follow.
    const weightsEvent = (seen: readonly Seen[], reason: string) => seen.find((s) => s.event.type === 'weights' && s.event.reason === reason)?.event;
    await expect.poll(() => weightsEvent(onB.seen, 'rollout step 3/5: weight 50'), { timeout: 15_000 }).toMatchObject({ origin: 'a' });
    expect(weightsEvent(onB.seen, 'rollout step 1/5: weight 20')).toMatchObject({ origin: 'a' });
    expect([driven(onB.seen), driven(onC.seen)]).toEqual([[], []]);

    const killed = performance.now();
    await a.kill();
    // A died in the 4 s pause; its lock frees within the lease TTL (10 s), and B or C takes it within a retry (5 s).
    await expect.poll(async () => (await b.admin('GET', '/v1/services/web/rollout')).body.state, { timeout: 25_000, interval: 200 }).toBe('completed');

    const [byB, byC] = [driven(onB.seen), driven(onC.seen)];
    const taker = byB.length > 0 ? 'b' : 'c';
    const taken = taker === 'b' ? byB : byC;
    // Exactly one of them drove the rest: the end of the pause and the last weight step.
    expect([byB.length === 0, byC.length === 0].filter(Boolean)).toHaveLength(1);
    expect(taken.map((s) => (s.event.type === 'rollout' ? [s.event.action, s.event.step] : []))).toEqual([
      ['step', 4],
      ['step', 4],
      ['completed', 4],
    ]);
    const other = taker === 'b' ? onC.seen : onB.seen;
    await expect.poll(() => weightsEvent(other, 'rollout step 5/5: weight 100')).toMatchObject({ origin: taker });
    console.log(`rollout takeover after kill -9 of its driver: next step by ${taker} ${((taken[0]?.at ?? 0) - killed).toFixed(0)} ms after the kill`);

    // Each weight step is in the history once, the same on every live instance.
    for (const instance of [b, c]) {
      const history = (await instance.admin('GET', '/v1/services/web/history')).body.history as { reason: string; actor: string }[];
      expect(history.map((h) => [h.actor, h.reason])).toEqual([
        ['rollout', 'rollout step 1/5: weight 20'],
        ['rollout', 'rollout step 3/5: weight 50'],
        ['rollout', 'rollout step 5/5: weight 100'],
      ]);
      expect(await instance.service('web')).toMatchObject({ active: 'green', weights: { blue: 0, green: 100 } });
    }
    onB.close();
    onC.close();
  }, 45_000);
});
