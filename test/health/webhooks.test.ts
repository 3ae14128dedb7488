import { createServer } from 'node:http';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { webhookListener } from '../../src/events/webhooks.js';
import type { SwitchyardEvent } from '../../src/events/bus.js';
import { defer } from '../helpers/cleanup.js';
import { waitFor } from '../helpers/switchyard.js';

async function receiver(statusFor: (n: number) => number, bodies: string[]): Promise<string> {
  let n = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodies.push(body);
      res.statusCode = statusFor(++n);
      res.end();
    });
  });
  defer(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}/hook`;
}

const health: SwitchyardEvent = {
  type: 'health',
  time: '2026-01-01T00:00:00.000Z',
  service: 'web',
  stack: 'blue',
  target: '10.0.0.1:80',
  healthy: false,
  source: 'active',
  error: 'status 503',
};

/** A switch to green, as the event stream publishes it. */
function switchTo(generation: number): Extract<SwitchyardEvent, { type: 'switch' | 'weights' | 'rollback' }> {
  return {
    type: 'switch',
    time: health.time,
    service: 'web',
    from: { blue: 100, green: 0 },
    to: { blue: 0, green: 100 },
    active: 'green',
    generation,
    reason: 'test',
  };
}

describe('webhookListener', () => {
  it('retries a refused delivery and POSTs the event JSON', async () => {
    const bodies: string[] = [];
    const url = await receiver((n) => (n === 1 ? 500 : 204), bodies);
    const listener = webhookListener(() => ({ on_health_change: [url] }), pino({ level: 'silent' }));
    listener(health);
    await waitFor(() => bodies.length === 2);
    expect(bodies.map((b) => JSON.parse(b) as unknown)).toEqual([health, health]);
  });

  it('sends health events only to on_health_change and switches only to on_switch, without blocking the caller', async () => {
    const healthBodies: string[] = [];
    const switchBodies: string[] = [];
    const healthUrl = await receiver(() => 200, healthBodies);
    const switchUrl = await receiver(() => 200, switchBodies);
    const listener = webhookListener(() => ({ on_health_change: [healthUrl], on_switch: [switchUrl] }), pino({ level: 'silent' }));
    const started = Date.now();
    listener(health);
    listener(switchTo(2));
    // A blocking send would wait for an answer that cannot come (the receivers run on this
    // event loop) until its timeout; 1 s is far above two plain calls, even on a loaded box.
    expect(Date.now() - started).toBeLessThan(1000);
    await waitFor(() => healthBodies.length === 1 && switchBodies.length === 1);
    expect((JSON.parse(healthBodies[0] ?? '') as SwitchyardEvent).type).toBe('health');
    expect((JSON.parse(switchBodies[0] ?? '') as SwitchyardEvent).type).toBe('switch');
  });

  it('in a fleet, posts the changes made through this instance (and its own health events), not those of others', async () => {
    const bodies: string[] = [];
    const url = await receiver(() => 200, bodies);
    const listener = webhookListener(() => ({ on_health_change: [url], on_switch: [url] }), pino({ level: 'silent' }), 'a');
    const change = (origin: string, generation: number): SwitchyardEvent => ({ ...switchTo(generation), origin });
    listener(change('b', 2));
    listener(change('a', 3));
    listener(health);
    await waitFor(() => bodies.length >= 2);
    // A later change of this instance's arrives after anything sent before it.
    listener(change('a', 4));
    await waitFor(() => bodies.some((b) => (JSON.parse(b) as { generation?: number }).generation === 4));
    const posted = bodies.map((b) => JSON.parse(b) as SwitchyardEvent & { origin?: string; generation?: number });
    expect(posted.map((e) => `${e.type} ${e.origin ?? '-'} ${e.generation ?? '-'}`).sort()).toEqual(['health - -', 'switch a 3', 'switch a 4']);
  });
});
