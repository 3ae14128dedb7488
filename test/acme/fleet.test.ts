import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AcmeStatus } from '../../src/acme/manager.js';
import { b64, type EtcdCluster, etcdAvailable, gateway, startEtcd } from '../helpers/etcd.js';
import { tempDir } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { freePort, type Pebble, pebbleInstalled, startPebble } from './pebble.js';
import { type AcmeSwitchyard, acmeEvent, handshake, startAcmeSwitchyard } from './support.js';

const INSTALL = 'Debian package pebble is missing: apt-get install -y pebble';
const pebbleHere = pebbleInstalled();
if (!pebbleHere && process.env.CI === 'true') throw new Error(`${INSTALL} (CI=true: not skipping)`);
if (!pebbleHere) console.warn(`skipping the fleet ACME tests: ${INSTALL}`);
const runnable = pebbleHere && etcdAvailable(import.meta.filename);

let prefixes = 0;

/** Waits until `check` holds, polling every 20 ms; rejects after `ms` with `what`. */
async function until(check: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function acmeStatus(sy: AcmeSwitchyard, name: string): Promise<AcmeStatus | undefined> {
  const answer = (await (await fetch(`${sy.app.adminUrl}/v1/certificates/acme`)).json()) as { certificates?: AcmeStatus[] };
  return answer.certificates?.find((c) => c.name === name);
}

describe.skipIf(!runnable)('ACME with the etcd store (SPEC §12: one instance orders, any instance answers)', () => {
  let etcd: EtcdCluster;
  let pebble: Pebble;
  let root: string;
  let httpPort: number;
  let upstream: Upstream;

  beforeAll(async () => {
    httpPort = await freePort();
    [etcd, pebble, upstream] = await Promise.all([startEtcd(), startPebble(httpPort), startUpstream('from upstream')]);
    root = await pebble.root();
  }, 60_000);
  afterAll(async () => {
    await pebble?.stop();
    await etcd?.destroy();
    await upstream?.close();
  });

  /** An instance on the shared etcd (a fresh prefix per test); `plainPort` is its plain listener. */
  function instance(prefix: string, id: string, plainPort: number, extra: Record<string, unknown>): Promise<AcmeSwitchyard> {
    const dir = tempDir();
    return startAcmeSwitchyard(dir, plainPort, upstream.address, {
      state: { store: 'etcd', endpoints: etcd.endpoints, prefix, instance_id: id, path: join(dir, 'state.json') },
      ...extra,
    });
  }
  const acme = () => ({ directory: pebble.directory, ca_file: pebble.caFile, email: 'ops@example.com' });
  const nextPrefix = () => `/acme-fleet-${process.pid}-${++prefixes}/`;

  it('B answers the http-01 challenge of the order A runs; both serve the issued certificate', async () => {
    const prefix = nextPrefix();
    // Pebble's validator reaches B only: B holds Pebble's http-01 port and orders nothing.
    const b = await instance(prefix, 'b', httpPort, {});
    const a = await instance(prefix, 'a', await freePort(), { acme: acme(), certificates: [{ name: 'web', hosts: ['fleet.example.com'], acme: true }] });
    const issued = await acmeEvent(a, 'issued', 'web', 0, 30_000);
    const answeredOn = (sy: AcmeSwitchyard) => sy.logs.filter((l) => l.msg === 'ACME http-01 challenge answered').map((l) => l.host);
    expect(answeredOn(b)).toContain('fleet.example.com');
    expect(answeredOn(a)).toEqual([]);
    // The certificate went through etcd as an ACME one: B installs it and serves it on its next handshake.
    await until(() => b.app.certificates.get('web')?.fingerprint256 === issued.fingerprint256, 'B to install the certificate');
    expect(b.app.certificates.source('web')).toBe('acme');
    const fromA = await handshake(a.app.port('https'), 'fleet.example.com', root);
    const fromB = await handshake(b.app.port('https'), 'fleet.example.com', root);
    expect(fromA.authorized, fromA.error).toBe(true);
    expect(fromB.authorized, fromB.error).toBe(true);
    expect(fromB.serial).toBe(fromA.serial);
    // The tokens left etcd with the order; the lock was released.
    await until(async () => {
      const left = await gateway(etcd.first.clientUrl, '/kv/range', { key: b64(prefix), range_end: b64(`${prefix}\xff`), keys_only: true });
      const keys = ((left.kvs as { key: string }[] | undefined) ?? []).map((kv) => Buffer.from(kv.key, 'base64').toString());
      return !keys.some((k) => k.includes('/acme/challenges/') || k.includes('/locks/acme/'));
    }, 'the tokens and the lock to leave etcd');
    expect(b.app.acme.challenges.size).toBe(0);
  }, 60_000);

  it('two instances starting together order once; the other installs the result and schedules the same renewal', async () => {
    const prefix = nextPrefix();
    const extra = { acme: acme(), certificates: [{ name: 'web', hosts: ['once.example.com'], acme: true }] };
    const [a, b] = await Promise.all([instance(prefix, 'a', httpPort, extra), instance(prefix, 'b', await freePort(), extra)]);
    const settled = async (sy: AcmeSwitchyard) => {
      const status = await acmeStatus(sy, 'web');
      return status?.state === 'valid' && status.next_renewal !== null && Date.parse(status.next_renewal) > Date.now() + 86_400_000;
    };
    await until(async () => (await settled(a)) && (await settled(b)), 'both instances to hold the certificate with a renewal months away');
    // The log is captured from the start (events only once start() returned): one order in the whole fleet.
    const ordered = [...a.logs, ...b.logs].filter((l) => l.msg === 'ACME order started');
    expect(ordered).toHaveLength(1);
    expect(a.app.certificates.get('web')?.fingerprint256).toBe(b.app.certificates.get('web')?.fingerprint256);
    const [fromA, fromB] = [await handshake(a.app.port('https'), 'once.example.com', root), await handshake(b.app.port('https'), 'once.example.com', root)];
    expect(fromA.authorized && fromB.authorized).toBe(true);
    expect(fromA.serial).toBe(fromB.serial);
    // Both renewals read the shared notAfter.
    const notAfter = a.app.certificates.get('web')?.not_after;
    expect(b.app.certificates.get('web')?.not_after).toBe(notAfter);
  }, 60_000);

  it('a lock left by an instance that died frees itself with its lease, and the survivor orders', async () => {
    const prefix = nextPrefix();
    // What a crashed orderer leaves: the lock key on a lease nobody keeps alive.
    const lease = (await gateway(etcd.first.clientUrl, '/lease/grant', { TTL: 3 })) as { ID: string };
    await gateway(etcd.first.clientUrl, '/kv/put', { key: b64(`${prefix}locks/acme/web`), value: b64('{"owner":"dead"}'), lease: lease.ID });
    const a = await instance(prefix, 'a', httpPort, { acme: acme(), certificates: [{ name: 'web', hosts: ['survivor.example.com'], acme: true }] });
    await until(() => a.logs.some((l) => l.msg.startsWith('ACME order runs on another instance')), 'the instance to find the lock held');
    expect(a.logs.some((l) => l.msg === 'ACME order started')).toBe(false);
    await acmeEvent(a, 'issued', 'web', 0, 30_000);
    const served = await handshake(a.app.port('https'), 'survivor.example.com', root);
    expect(served.authorized, served.error).toBe(true);
  }, 60_000);
});
