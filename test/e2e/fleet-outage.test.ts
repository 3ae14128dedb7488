import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type EtcdCluster, etcdAvailable, startEtcd } from '../helpers/etcd.js';
import { blueGreenServices, FleetInstance, untilServed } from '../helpers/fleet.js';
import { startUpstream } from '../helpers/upstream.js';

const hasEtcd = etcdAvailable(import.meta.filename);

/** Detection is the store's 1 s reachability probe plus a bounded call; generous for a loaded machine. */
const DETECT = { timeout: 10_000, interval: 100 };

describe.skipIf(!hasEtcd)('fleet: etcd outages', () => {
  let etcd: EtcdCluster | undefined;
  let dir: string;
  let instances: FleetInstance[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-fleet-outage-'));
  });
  afterEach(async () => {
    await Promise.all(instances.map((instance) => instance.kill()));
    instances = [];
    await etcd?.destroy();
    etcd = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  /** Two instances a and b on `cluster`, serving a blue/green `web` (blue initially). */
  async function twoInstances(cluster: EtcdCluster): Promise<[FleetInstance, FleetInstance]> {
    const blue = await startUpstream('blue');
    const green = await startUpstream('green');
    const services = blueGreenServices(blue.address, green.address);
    instances = await Promise.all(['a', 'b'].map((id) => FleetInstance.create({ id, dir, endpoints: cluster.endpoints, prefix: '/outage/', services })));
    await Promise.all(instances.map((instance) => instance.start()));
    return instances as [FleetInstance, FleetInstance];
  }

  it('keeps serving through an etcd outage, refuses mutations with 503, restarts from the cache, and catches up when etcd is back', async () => {
    etcd = await startEtcd();
    const [a, b] = await twoInstances(etcd);
    expect((await a.switchTo('web', 'green')).status).toBe(200);
    await untilServed(b, 'green');
    // b stops knowing green; then the fleet moves to blue without it (b's cache still says green).
    await b.stop();
    expect((await a.switchTo('web', 'blue')).status).toBe(200);

    await etcd.first.stop();
    await expect.poll(() => a.metric('switchyard_store_connected'), DETECT).toBe(0);
    expect(await a.served()).toBe('blue');
    const refused = await a.switchTo('web', 'green');
    expect(refused.status).toBe(503);
    expect(refused.body.error?.code).toBe('STORE_UNAVAILABLE');
    expect(await a.served()).toBe('blue');
    expect((await a.admin('GET', '/v1/fleet')).status).toBe(503);
    // A certificate upload is shared through etcd first: refused, nothing installed.
    const upload = await a.admin('POST', '/v1/certificates/self-signed', { name: 'outage', hosts: ['outage.test'] });
    expect(upload.status).toBe(503);
    expect((await a.admin('GET', '/v1/certificates')).body.certificates).toEqual([]);

    // A restart during the outage serves the last state this instance knew, from its cache file.
    await b.start();
    expect(await b.served()).toBe('green');
    expect(await b.metric('switchyard_store_connected')).toBe(0);
    const cached = await b.switchTo('web', 'blue');
    expect(cached.status).toBe(503);
    expect(cached.body.error?.code).toBe('STORE_UNAVAILABLE');

    etcd.first.restart();
    await etcd.first.waitHealthy();
    // etcd wins: b drops its cached green for etcd's blue without any mutation.
    await untilServed(b, 'blue');
    for (const instance of [a, b]) await expect.poll(() => instance.metric('switchyard_store_connected'), DETECT).toBe(1);
    const accepted = await b.switchTo('web', 'green');
    expect(accepted.status).toBe(200);
    await untilServed(a, 'green');
    expect(await a.service('web')).toEqual(await b.service('web'));
    expect(b.output()).toMatch(/etcd reachable: caught up with its state \(etcd wins\)/);
  });

  it('on a 3-member cluster: works on with one member lost; with two lost refuses mutations and keeps serving; recovers with quorum', async () => {
    etcd = await startEtcd({ size: 3 });
    const [a, b] = await twoInstances(etcd);
    const [m0, m1] = etcd.members;
    await m0?.kill();
    // When the lost member was the leader, etcd elects another (about a second, longer on a
    // loaded box): a mutation in that window answers 503 STORE_UNAVAILABLE and is retried.
    await expect.poll(async () => (await a.switchTo('web', 'green')).status, DETECT).toBe(200);
    await untilServed(b, 'green');
    expect((await b.switchTo('web', 'blue')).status).toBe(200);
    await untilServed(a, 'blue');

    await m1?.kill();
    const refused = await a.switchTo('web', 'green');
    expect(refused.status).toBe(503);
    expect(refused.body.error?.code).toBe('STORE_UNAVAILABLE');
    expect(await a.served()).toBe('blue');
    expect(await b.served()).toBe('blue');
    await expect.poll(() => b.metric('switchyard_store_connected'), DETECT).toBe(0);

    m1?.restart();
    await m1?.waitHealthy();
    await expect.poll(async () => (await a.switchTo('web', 'green')).status, DETECT).toBe(200);
    await untilServed(b, 'green');
  });
});
