import { describe, expect, it } from 'vitest';
import { EventBus, type SwitchyardEvent } from '../../src/events/bus.js';
import { type CertificateChange, ChangeFanout } from '../../src/tls/change-fanout.js';
import { captureLogger } from './fixtures.js';

describe('ChangeFanout', () => {
  describe('#announce', () => {
    it('tells the listeners, then awaits every process, then publishes the event', async () => {
      const bus = new EventBus();
      const fanout = new ChangeFanout(captureLogger().log, bus);
      const seen: string[] = [];
      bus.subscribe((event) => seen.push(`event ${event.type}`));
      fanout.subscribe((name) => seen.push(`listener ${name}`));
      let release: () => void = () => undefined;
      fanout.applyWith(async (change) => {
        seen.push(`apply ${change.action}`);
        await new Promise<void>((resolve) => {
          release = resolve;
        });
      });
      const done = fanout.announce({ action: 'delete', name: 'site' }, { action: 'deleted', fingerprint256: 'AB' });
      await Promise.resolve();
      expect(seen).toEqual(['listener site', 'apply delete']);
      release();
      await done;
      expect(seen).toEqual(['listener site', 'apply delete', 'event certificate']);
    });

    it('publishes the certificate event with the given time and origin, and none without a bus', async () => {
      const bus = new EventBus();
      const events: SwitchyardEvent[] = [];
      bus.subscribe((event) => events.push(event));
      const change: CertificateChange = { action: 'set', name: 'site', hosts: ['a.test'], cert: 'c', key: 'k', keyType: 'ec' };
      const at = Date.parse('2030-01-02T03:04:05.000Z');
      await new ChangeFanout(captureLogger().log, bus).announce(change, { action: 'replaced', fingerprint256: 'AB', origin: 'b' }, at);
      expect(events).toEqual([{ type: 'certificate', time: '2030-01-02T03:04:05.000Z', name: 'site', action: 'replaced', fingerprint256: 'AB', origin: 'b' }]);
      await expect(new ChangeFanout(captureLogger().log, undefined).announce(change, { action: 'added', fingerprint256: 'AB' })).resolves.toBeUndefined();
    });

    it('logs a listener that throws and still tells the others', async () => {
      const { log, lines } = captureLogger();
      const fanout = new ChangeFanout(log, undefined);
      const told: string[] = [];
      fanout.subscribe(() => {
        throw new Error('boom');
      });
      fanout.subscribe((name) => told.push(name));
      await fanout.announce({ action: 'delete', name: 'site' }, { action: 'deleted', fingerprint256: 'AB' });
      expect(told).toEqual(['site']);
      expect(lines.find((l) => l.msg === 'certificate change listener failed')).toMatchObject({ level: 50, certificate: 'site', err: 'boom' });
    });
  });

  describe('#subscribe', () => {
    it('returns a function that stops the listener', async () => {
      const fanout = new ChangeFanout(captureLogger().log, undefined);
      const told: string[] = [];
      const unsubscribe = fanout.subscribe((name) => told.push(name));
      await fanout.announce({ action: 'delete', name: 'one' }, { action: 'deleted', fingerprint256: 'AB' });
      unsubscribe();
      await fanout.announce({ action: 'delete', name: 'two' }, { action: 'deleted', fingerprint256: 'AB' });
      expect(told).toEqual(['one']);
    });
  });
});
