import { readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { EventBus, type SwitchyardEvent } from '../../src/events/bus.js';
import { generateSelfSigned, LOCALHOST_NAMES } from '../../src/tls/self-signed.js';
import { type CertificateReplica, CertificateStore, ensureSelfSigned } from '../../src/tls/store.js';
import { captureLogger, removeTempDirs, tempDir } from './fixtures.js';

afterAll(removeTempDirs);

async function open(): Promise<{ store: CertificateStore; dir: string; events: SwitchyardEvent[]; lines: ReturnType<typeof captureLogger>['lines'] }> {
  const dir = tempDir();
  const { log, lines } = captureLogger();
  const bus = new EventBus();
  const events: SwitchyardEvent[] = [];
  bus.subscribe((event) => events.push(event));
  return { store: await CertificateStore.open(dir, log, bus), dir, events, lines };
}

/** A replica that records what it was given, and refuses while `down` is set. */
class RecordingReplica implements CertificateReplica {
  readonly calls: string[] = [];
  down = false;

  async put(name: string): Promise<void> {
    if (this.down) throw new Error('etcd is unreachable');
    this.calls.push(`put ${name}`);
  }

  async delete(name: string): Promise<void> {
    if (this.down) throw new Error('etcd is unreachable');
    this.calls.push(`delete ${name}`);
  }
}

describe('CertificateStore in a fleet', () => {
  describe('#replicateTo', () => {
    it('hands uploads and removals to the replica before installing them, and changes nothing when it refuses', async () => {
      const { store, dir } = await open();
      const replica = new RecordingReplica();
      store.replicateTo(replica);
      await store.addSelfSigned('one', ['one.test']);
      await store.delete('one');
      expect(replica.calls).toEqual(['put one', 'delete one']);
      replica.down = true;
      await expect(store.addSelfSigned('two', ['two.test'])).rejects.toThrow('etcd is unreachable');
      expect(store.has('two')).toBe(false);
      expect(readdirSync(dir)).toEqual([]);
      replica.down = false;
      await store.addSelfSigned('three', ['three.test']);
      replica.down = true;
      await expect(store.delete('three')).rejects.toThrow('etcd is unreachable');
      expect(store.has('three')).toBe(true);
      expect(readdirSync(dir).sort()).toEqual(['three.crt', 'three.key', 'three.meta.json']);
      // A listener's default made at start is this instance's own: it starts without etcd too.
      expect(await ensureSelfSigned(store, 'localhost', LOCALHOST_NAMES)).toMatchObject({ name: 'localhost' });
      expect(replica.calls).toEqual(['put one', 'delete one', 'put three']);
    });
  });

  describe('#applyRemote', () => {
    it('installs and removes a certificate from another instance with its origin, without sharing it back', async () => {
      const { store, events } = await open();
      const replica = new RecordingReplica();
      store.replicateTo(replica);
      const pem = await generateSelfSigned(['fleet.test']);
      await store.applyRemote('fleet', { cert: pem.certPem, key: pem.keyPem }, 'a');
      expect(store.get('fleet')?.hosts).toEqual(['fleet.test']);
      expect(store.contextFor('fleet.test', undefined)).toBeDefined();
      // The same pair again is no change (a watch replay, or the start-up install).
      const pair = store.keyPair('fleet');
      await store.applyRemote('fleet', { cert: pair?.cert ?? '', key: pair?.key ?? '' }, 'a');
      await store.applyRemote('fleet', undefined, undefined);
      expect(store.has('fleet')).toBe(false);
      expect(replica.calls).toEqual([]);
      expect(events).toMatchObject([
        { type: 'certificate', name: 'fleet', action: 'added', origin: 'a' },
        { type: 'certificate', name: 'fleet', action: 'deleted' },
      ]);
    });

    it('leaves out a certificate from the fleet that does not validate, logging why, and keeps the one installed', async () => {
      const { store, events, lines } = await open();
      await store.addSelfSigned('fleet', ['fleet.test']);
      const before = store.get('fleet');
      await store.applyRemote('fleet', { cert: 'not a certificate', key: 'not a key' }, 'b');
      expect(store.get('fleet')).toEqual(before);
      expect(events).toHaveLength(1);
      expect(lines.find((l) => l.msg === 'certificate from the fleet not installed')).toMatchObject({ certificate: 'fleet', origin: 'b' });
    });
  });
});
