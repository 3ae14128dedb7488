import { Agent, request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { startSwitchyard } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let app: Switchyard | undefined;
const upstreams: Upstream[] = [];
afterEach(async () => {
  await app?.stop(0);
  app = undefined;
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

interface Flip {
  sentAt: number;
  ackAt: number;
  to: string;
}

function get(port: number, agent: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('cut-over under load', () => {
  it('flips every 100 ms under 20 keep-alive clients with no failed or stale request', async () => {
    const blue = await startUpstream('blue');
    const green = await startUpstream('green');
    upstreams.push(blue, green);
    app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [blue.address] }, green: { targets: [green.address] } } }]);
    const port = app.port('http');
    const agent = new Agent({ keepAlive: true, maxSockets: 20 });
    const flips: Flip[] = [{ sentAt: 0, ackAt: 0, to: 'blue' }];
    const answers: { startedAt: number; endedAt: number; body: string; status: number }[] = [];
    let errors = 0;
    let running = true;

    const client = async () => {
      while (running) {
        const startedAt = performance.now();
        try {
          const reply = await get(port, agent);
          answers.push({ startedAt, endedAt: performance.now(), ...reply });
        } catch {
          errors++;
        }
      }
    };
    const clients = Array.from({ length: 20 }, client);
    for (let i = 0; i < 25; i++) {
      const to = i % 2 === 0 ? 'green' : 'blue';
      const sentAt = performance.now();
      const reply = await fetch(`${app.adminUrl}/v1/services/web/switch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ to }) });
      expect(reply.status).toBe(200);
      flips.push({ sentAt, ackAt: performance.now(), to });
      await new Promise((r) => setTimeout(r, 100));
    }
    running = false;
    await Promise.all(clients);
    agent.destroy();

    expect(errors).toBe(0);
    expect(answers.length).toBeGreaterThan(200);
    expect(answers.filter((a) => a.status !== 200)).toHaveLength(0);
    let stale = 0;
    for (const answer of answers) {
      // The last flip acknowledged before the request started decides its stack, unless a
      // later flip was already sent before the answer came back (then either is correct).
      const index = flips.findLastIndex((f) => f.ackAt <= answer.startedAt);
      const next = flips[index + 1];
      if (next !== undefined && next.sentAt <= answer.endedAt) continue;
      if (answer.body !== flips[index]!.to) {
        stale++;
      }
    }
    expect(stale).toBe(0);
  });
});
