import { once } from 'node:events';
import { request } from 'node:http';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SharedChallenge } from '../../src/acme/fleet.js';
import { EtcdAcmeCoordinator } from '../../src/state/etcd/acme-coordination.js';
import { EtcdClient } from '../../src/state/etcd/client.js';
import { KeyLayout } from '../../src/state/etcd/records.js';
import { freePort } from '../acme/pebble.js';
import { startAcmeSwitchyard } from '../acme/support.js';
import { b64, type EtcdCluster, etcdAvailable, gateway, startEtcd } from '../helpers/etcd.js';
import { tempDir } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const hasEtcd = etcdAvailable(import.meta.filename);
let prefixes = 0;

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(!hasEtcd)('ACME coordination in etcd (order lock, shared http-01 tokens)', () => {
  let etcd: EtcdCluster;
  let upstream: Upstream;
  const clients: EtcdClient[] = [];
  const coordinators: EtcdAcmeCoordinator[] = [];

  beforeAll(async () => {
    [etcd, upstream] = await Promise.all([startEtcd(), startUpstream('from upstream')]);
  });
  afterAll(async () => {
    await Promise.all(coordinators.map((c) => c.close()));
    await Promise.all(clients.map((c) => c.close()));
    await etcd?.destroy();
    await upstream?.close();
  });

  function coordinator(prefix: string, id: string, lockTtl?: number): EtcdAcmeCoordinator {
    const client = new EtcdClient({ endpoints: etcd.endpoints });
    clients.push(client);
    const made = new EtcdAcmeCoordinator(client, new KeyLayout(prefix), id, pino({ level: 'silent' }), lockTtl);
    coordinators.push(made);
    return made;
  }
  const nextPrefix = () => `/acme-coord-${process.pid}-${++prefixes}/`;

  it('one instance holds the lock of a certificate at a time; releasing it lets the next take it', async () => {
    const prefix = nextPrefix();
    const [a, b] = [coordinator(prefix, 'a'), coordinator(prefix, 'b')];
    const held = await a.lock('web');
    expect(held).toBeDefined();
    expect(await b.lock('web')).toBeUndefined();
    // Another certificate's lock is another key.
    const other = await b.lock('api');
    expect(other).toBeDefined();
    await held?.release();
    const next = await b.lock('web');
    expect(next).toBeDefined();
    expect(next?.signal.aborted).toBe(false);
    await next?.release();
    await other?.release();
  });

  it('a lock whose lease is gone aborts its holder', async () => {
    const prefix = nextPrefix();
    const held = await coordinator(prefix, 'a', 3).lock('web');
    if (!held) throw new Error('lock not taken');
    const range = (await gateway(etcd.first.clientUrl, '/kv/range', { key: b64(`${prefix}locks/acme/web`) })) as { kvs?: { lease?: string }[] };
    const lease = range.kvs?.[0]?.lease;
    expect(lease).toBeDefined();
    await gateway(etcd.first.clientUrl, '/lease/revoke', { ID: lease });
    await once(held.signal, 'abort');
    expect(String(held.signal.reason)).toMatch(/lock of "web" was lost/);
    await held.release();
  });

  it('a published token reaches every follower; withdrawn, it leaves them; a bad value is ignored', async () => {
    const prefix = nextPrefix();
    const [a, b] = [coordinator(prefix, 'a'), coordinator(prefix, 'b')];
    const seen = new Map<string, SharedChallenge>();
    const follow = (c: EtcdAcmeCoordinator) =>
      c.followChallenges(
        (challenge) => seen.set(challenge.token, challenge),
        (token) => seen.delete(token),
      );
    await follow(b);
    await follow(a);
    await gateway(etcd.first.clientUrl, '/kv/put', { key: b64(`${prefix}acme/challenges/garbage`), value: b64('{"host":42}') });
    await a.publishChallenge({ token: 'tok1', host: 'a.example.com', keyAuthorization: 'tok1.thumb' });
    await until(() => seen.has('tok1'), 'the token to arrive');
    expect(seen.get('tok1')).toEqual({ token: 'tok1', host: 'a.example.com', keyAuthorization: 'tok1.thumb' });
    expect(seen.has('garbage')).toBe(false);
    await a.withdrawChallenge('tok1');
    await until(() => !seen.has('tok1'), 'the token to leave');
  });

  it('an instance answers a token another instance put in etcd, for its host only; other requests route as before', async () => {
    const prefix = nextPrefix();
    const dir = tempDir();
    const port = await freePort();
    const sy = await startAcmeSwitchyard(dir, port, upstream.address, {
      state: { store: 'etcd', endpoints: etcd.endpoints, prefix, instance_id: 'b', path: join(dir, 'state.json') },
    });
    await coordinator(prefix, 'a').publishChallenge({ token: 'tokX', host: 'x.example.com', keyAuthorization: 'tokX.thumb' });
    await until(() => sy.app.acme.challenges.size === 1, 'the instance to pick the token up');
    // fetch drops a Host header; node:http sends it.
    const get = (host: string, path: string) =>
      new Promise<{ status: number | undefined; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            body += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode, body }));
        });
        req.on('error', reject);
        req.end();
      });
    expect(await get('x.example.com', '/.well-known/acme-challenge/tokX')).toEqual({ status: 200, body: 'tokX.thumb' });
    // Another host, or an unknown token: routed to the upstream as any request.
    expect((await get('y.example.com', '/.well-known/acme-challenge/tokX')).body).toContain('from upstream');
    expect((await get('x.example.com', '/.well-known/acme-challenge/other')).body).toContain('from upstream');
    await gateway(etcd.first.clientUrl, '/kv/deleterange', { key: b64(`${prefix}acme/challenges/tokX`) });
    await until(() => sy.app.acme.challenges.size === 0, 'the token to leave');
    expect((await get('x.example.com', '/.well-known/acme-challenge/tokX')).body).toContain('from upstream');
  });
});
