import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { SwitchyardEvent } from '../../src/events/bus.js';
import { runCli } from '../helpers/child-switchyard.js';
import { b64, type EtcdCluster, etcdAvailable, gateway, startEtcd } from '../helpers/etcd.js';
import { blueGreenServices, FleetInstance, percentile, untilServed } from '../helpers/fleet.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const hasEtcd = etcdAvailable(import.meta.filename);
const PREFIX = '/fleet/';

/** The SHA-256 fingerprint a TLS listener presents for `servername`, or undefined when the handshake fails. */
function fingerprintServed(port: number, servername: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', servername, rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      resolve(fingerprint);
    });
    socket.on('error', () => resolve(undefined));
  });
}

/** The service's state as etcd holds it (what the fleet must converge on). */
async function storedGeneration(endpoint: string): Promise<number> {
  const answer = await gateway(endpoint, '/kv/range', { key: b64(`${PREFIX}services/web`) });
  const kv = (answer.kvs as { value: string }[])[0];
  return (JSON.parse(Buffer.from(kv?.value ?? '', 'base64').toString()) as { state: { generation: number } }).state.generation;
}

describe.skipIf(!hasEtcd)('fleet: three switchyard processes on one etcd', () => {
  let etcd: EtcdCluster;
  let dir: string;
  let blue: Upstream;
  let green: Upstream;
  let hooks: Upstream;
  let a: FleetInstance;
  let b: FleetInstance;
  let c: FleetInstance;
  /** What the fleet's on_switch webhook received, parsed. */
  const delivered: { type: string; origin?: string; generation?: number }[] = [];

  beforeAll(async () => {
    etcd = await startEtcd();
    dir = mkdtempSync(join(tmpdir(), 'switchyard-fleet-'));
    blue = await startUpstream('blue');
    green = await startUpstream('green');
    hooks = await startUpstream('', (req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        delivered.push(JSON.parse(body) as (typeof delivered)[number]);
        res.end();
      });
    });
    const services = blueGreenServices(blue.address, green.address);
    const extra = `hooks: { on_switch: "http://${hooks.address}/hook" }`;
    [a, b, c] = (await Promise.all(
      ['a', 'b', 'c'].map((id) =>
        FleetInstance.create({ id, dir, endpoints: etcd.endpoints, prefix: PREFIX, services, state: 'wait_timeout: 1500ms', tls: true, extra }),
      ),
    )) as [FleetInstance, FleetInstance, FleetInstance];
    // Started together on an empty prefix: the create-if-absent seeding must not fight.
    await Promise.all([a, b, c].map((instance) => instance.start()));
  }, 60_000);

  afterAll(async () => {
    await Promise.all([a, b, c].map((instance) => instance?.kill()));
    await Promise.all([blue, green, hooks].map((upstream) => upstream?.close()));
    await etcd?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('starts all three from one seed and lists them as members', async () => {
    for (const instance of [a, b, c]) expect(await instance.service('web')).toMatchObject({ generation: 1, active: 'blue' });
    // /healthz answers once the admin API listens; an instance joins the fleet a little later (after ACME starts).
    const members = async () => {
      const fleet = await b.admin('GET', '/v1/fleet');
      expect(fleet.status).toBe(200);
      return (fleet.body.members as { id: string; address: string }[]).map((m) => [m.id, m.address]);
    };
    await expect.poll(members, { timeout: 10_000 }).toEqual([
      ['a', a.adminUrl],
      ['b', b.adminUrl],
      ['c', c.adminUrl],
    ]);
  });

  it('posts each switch to on_switch once, from the instance it was made through', async () => {
    const generations: Record<string, number> = {};
    for (const [instance, to] of [
      [b, 'green'],
      [c, 'blue'],
      [a, 'green'],
    ] as const) {
      const reply = await instance.switchTo('web', to);
      expect(reply.status).toBe(200);
      generations[instance.id] = reply.body.generation as number;
    }
    // A's delivery goes out last; the others' copies from other instances would be out by then.
    await expect.poll(() => delivered.some((e) => e.generation === generations.a)).toBe(true);
    const wanted = new Set(Object.values(generations));
    const seen = delivered.filter((e) => e.generation !== undefined && wanted.has(e.generation)).map((e) => `${e.origin} ${e.generation}`);
    expect(seen.sort()).toEqual(
      Object.entries(generations)
        .map(([id, generation]) => `${id} ${generation}`)
        .sort(),
    );
    for (const instance of [a, b]) expect((await instance.switchTo('web', 'blue')).status).toBe(200);
  });

  it('serves a switch made through A on B and C, and B publishes it with A as the origin', async () => {
    const events: SwitchyardEvent[] = [];
    const ws = new WebSocket(`ws://127.0.0.1:${b.adminPort}/v1/events`);
    ws.on('message', (m) => events.push(JSON.parse(m.toString()) as SwitchyardEvent));
    await new Promise((resolve) => ws.once('open', resolve));
    const delays: number[] = [];
    for (let i = 0; i < 20; i++) {
      const to = i % 2 === 0 ? 'green' : 'blue';
      const reply = await a.switchTo('web', to);
      expect(reply.status).toBe(200);
      delays.push(...(await Promise.all([untilServed(b, to), untilServed(c, to)])));
    }
    console.log(
      `fleet propagation, switch acknowledged on A to the new stack served on B and C (3 processes, 20 flips): p50 ${percentile(delays, 50).toFixed(1)} ms, p99 ${percentile(delays, 99).toFixed(1)} ms, max ${Math.max(...delays).toFixed(1)} ms`,
    );
    await expect.poll(() => events.filter((e) => e.type === 'switch').length).toBe(20);
    expect(events.find((e) => e.type === 'switch')).toMatchObject({
      type: 'switch',
      service: 'web',
      to: { blue: 0, green: 100 },
      active: 'green',
      origin: 'a',
    });
    ws.close();
  });

  it('lets exactly one of 20 concurrent If-Match switches spread over the instances win; the rest get 412', async () => {
    const { generation } = await a.service('web');
    await expect.poll(async () => (await Promise.all([b, c].map((i) => i.service('web')))).every((s) => s.generation === generation)).toBe(true);
    const instances = [a, b, c];
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => instances[i % 3]?.switchTo('web', i % 2 === 0 ? 'green' : 'blue', { 'if-match': `"${generation}"` })),
    );
    const statuses = replies.map((r) => r?.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(19);
    for (const reply of replies) if (reply?.status === 412) expect(reply.body.error?.code).toBe('PRECONDITION_FAILED');
    const winner = replies.find((r) => r?.status === 200)?.body as { active: string; generation: number };
    expect(winner.generation).toBe(generation + 1);
    for (const instance of instances) {
      await expect.poll(async () => (await instance.service('web')).generation).toBe(generation + 1);
      expect(await instance.served()).toBe(winner.active);
    }
    // Without If-Match, racing writers are all applied one after the other: none is lost.
    const racing = await Promise.all(instances.flatMap((instance) => [instance.switchTo('web', 'green'), instance.switchTo('web', 'blue')]));
    expect(racing.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    await expect.poll(async () => (await a.service('web')).generation).toBe(generation + 7);
  });

  it('answers ?wait=all once every instance serves the change, and 504 naming an instance that does not apply it', async () => {
    const done = await a.switchTo('web', 'green', {}, '?wait=all');
    expect(done.status).toBe(200);
    // No polling: the answer came after B and C reported the change applied.
    expect(await b.served()).toBe('green');
    expect(await c.served()).toBe('green');
    c.pause();
    try {
      const cli = await runCli(['--admin', a.adminUrl, 'switch', 'web', 'blue', '--wait-all']);
      expect(cli.code).toBe(1);
      expect(cli.stderr).toMatch(/FLEET_LAGGING: not applied by c within 1500 ms/);
      const lagging = await b.switchTo('web', 'green', {}, '?wait=all');
      expect(lagging.status).toBe(504);
      expect(lagging.body.error).toMatchObject({ code: 'FLEET_LAGGING', members: ['c'] });
      // The change itself stays committed.
      expect(await a.served()).toBe('green');
    } finally {
      c.resume();
    }
    expect(await untilServed(c, 'green')).toBeGreaterThanOrEqual(0);
  });

  it('installs a certificate uploaded through A on B for its next handshakes, and removes it there when A deletes it', async () => {
    const upload = await a.admin('POST', '/v1/certificates/self-signed', { name: 'fleet', hosts: ['fleet.test'] });
    expect(upload.status).toBe(201);
    const fingerprint = (upload.body.certificate as { fingerprint256: string }).fingerprint256;
    await expect.poll(() => fingerprintServed(b.tlsPort, 'fleet.test'), { timeout: 10_000 }).toBe(fingerprint);
    expect(statSync(join(b.certsDir, 'fleet.key')).mode & 0o777).toBe(0o600);
    await expect.poll(() => fingerprintServed(c.tlsPort, 'fleet.test'), { timeout: 10_000 }).toBe(fingerprint);
    const removed = await a.admin('DELETE', '/v1/certificates/fleet');
    expect(removed.status).toBe(200);
    await expect.poll(async () => (await b.admin('GET', '/v1/certificates')).body.certificates, { timeout: 10_000 }).toEqual([]);
    expect(await fingerprintServed(b.tlsPort, 'fleet.test')).toBeUndefined();
  });

  it('after kill -9 of an instance in the middle of switching, the fleet holds the acknowledged state (or the one in flight, if etcd committed it)', async () => {
    let acked = (await a.service('web')).generation;
    const start = acked;
    const switching = (async () => {
      for (let i = 0; ; i++) {
        const reply = await a.switchTo('web', i % 2 === 0 ? 'blue' : 'green');
        if (reply.status !== 200) return;
        acked = (reply.body as { generation: number }).generation;
      }
    })().catch(() => undefined);
    await expect.poll(() => acked, { interval: 1 }).toBeGreaterThanOrEqual(start + 5);
    await a.kill();
    await switching;
    const stored = await storedGeneration(etcd.first.clientUrl);
    expect([acked, acked + 1]).toContain(stored);
    for (const instance of [b, c]) await expect.poll(async () => (await instance.service('web')).generation).toBe(stored);
    const [sb, sc] = await Promise.all([b.service('web'), c.service('web')]);
    expect(sc).toEqual(sb);
    expect(await b.served()).toBe(sb.active);
    expect(await c.served()).toBe(sb.active);
    // The killed instance comes back with the fleet's state, not its own last answer.
    await a.start();
    expect(await a.service('web')).toMatchObject({ generation: stored, active: sb.active });
    expect(await a.served()).toBe(sb.active);
  });
});
