import { Agent } from 'node:http';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { Switchyard } from '../../src/app.js';
import { startSwitchyard } from '../helpers/switchyard.js';
import { defer } from '../helpers/cleanup.js';
import { get } from '../helpers/http.js';
import { startBlueGreen } from '../helpers/upstream.js';

let app: Switchyard | undefined;

/** One acknowledged admin change: when it was sent, when it was acknowledged, the weights it set. */
interface Change {
  sentAt: number;
  ackAt: number;
  weights: Record<string, number>;
}

interface Answer {
  startedAt: number;
  endedAt: number;
  body: string;
  status: number;
}

/** Blue and green upstreams (answering their name, and echoing WebSocket messages prefixed with it) behind switchyard. */
async function blueGreen(service: Record<string, unknown> = {}): Promise<Switchyard> {
  const pair = await startBlueGreen(service);
  for (const [name, up] of [
    ['blue', pair.blue],
    ['green', pair.green],
  ] as const) {
    const wss = new WebSocketServer({ server: up.server });
    wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`${name}:${m.toString()}`)));
    defer(() => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    });
  }
  app = await startSwitchyard(pair.services);
  return app;
}

async function admin(sy: Switchyard, method: string, path: string, body: unknown): Promise<void> {
  const reply = await fetch(`${sy.adminUrl}${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(reply.status).toBe(200);
}

/**
 * Runs `clients` keep-alive GET loops while `change(i)` is applied every 100 ms, `count`
 * times; returns every answer, the socket errors, and each change with its timing.
 */
async function underLoad(
  sy: Switchyard,
  count: number,
  change: (i: number) => Promise<Record<string, number>>,
  clients = 20,
): Promise<{ answers: Answer[]; errors: number; changes: Change[] }> {
  const port = sy.port('http');
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const changes: Change[] = [{ sentAt: 0, ackAt: 0, weights: { blue: 100, green: 0 } }];
  const answers: Answer[] = [];
  let errors = 0;
  let running = true;
  const loop = async () => {
    while (running) {
      const startedAt = performance.now();
      try {
        const { status, body } = await get(port, { agent });
        answers.push({ startedAt, status, body, endedAt: performance.now() });
      } catch {
        errors++;
      }
    }
  };
  const loops = Array.from({ length: clients }, loop);
  for (let i = 0; i < count; i++) {
    const sentAt = performance.now();
    const weights = await change(i);
    changes.push({ sentAt, ackAt: performance.now(), weights });
    // The pace of the flips is the point (each phase is judged by `decided`, not by its length).
    await new Promise((r) => setTimeout(r, 100));
  }
  running = false;
  await Promise.all(loops);
  agent.destroy();
  return { answers, errors, changes };
}

/**
 * Answers whose stack is decided: started after a change was acknowledged and ended before
 * the next one was sent (an answer overlapping a change in flight may see either side).
 */
function decided(answers: Answer[], changes: Change[]): { answer: Answer; weights: Record<string, number> }[] {
  const out: { answer: Answer; weights: Record<string, number> }[] = [];
  for (const answer of answers) {
    const index = changes.findLastIndex((c) => c.ackAt <= answer.startedAt);
    const next = changes[index + 1];
    if (next !== undefined && next.sentAt <= answer.endedAt) continue;
    out.push({ answer, weights: changes[index]!.weights });
  }
  return out;
}

describe('cut-over under load', () => {
  it('flips every 100 ms under 20 keep-alive clients with no failed or stale request', async () => {
    const sy = await blueGreen();
    const { answers, errors, changes } = await underLoad(sy, 25, async (i) => {
      const to = i % 2 === 0 ? 'green' : 'blue';
      await admin(sy, 'POST', '/v1/services/web/switch', { to });
      return { blue: to === 'blue' ? 100 : 0, green: to === 'green' ? 100 : 0 };
    });
    expect(errors).toBe(0);
    expect(answers.length).toBeGreaterThan(200);
    expect(answers.filter((a) => a.status !== 200)).toHaveLength(0);
    const stale = decided(answers, changes).filter(({ answer, weights }) => weights[answer.body] === 0);
    expect(stale).toHaveLength(0);
  });

  it('changes weights every 100 ms (50/50, 100/0, 0/100, 80/20) with no failed request and none to a stack at weight 0', async () => {
    const sy = await blueGreen();
    const plan = [
      { blue: 50, green: 50 },
      { blue: 100, green: 0 },
      { blue: 0, green: 100 },
      { blue: 80, green: 20 },
    ];
    const { answers, errors, changes } = await underLoad(sy, 24, async (i) => {
      const weights = plan[i % plan.length]!;
      await admin(sy, 'PUT', '/v1/services/web/weights', { weights });
      return weights;
    });
    expect(errors).toBe(0);
    expect(answers.filter((a) => a.status !== 200)).toHaveLength(0);
    const settled = decided(answers, changes);
    expect(settled.filter(({ answer, weights }) => weights[answer.body] === 0)).toHaveLength(0);
    const even = settled.filter(({ weights }) => weights.blue === 50).map(({ answer }) => answer.body);
    expect(new Set(even)).toEqual(new Set(['blue', 'green']));
  });

  it('keeps WebSockets open on the stack they opened on while the service flips under HTTP load', async () => {
    const sy = await blueGreen();
    const port = sy.port('http');
    const sockets: { ws: WebSocket; stack: string; closed: boolean; echoes: string[] }[] = [];
    for (let i = 0; i < 10; i++) {
      if (i === 5) await admin(sy, 'POST', '/v1/services/web/switch', { to: 'green' });
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      await new Promise((r) => ws.once('open', r));
      const entry = { ws, stack: i < 5 ? 'blue' : 'green', closed: false, echoes: [] as string[] };
      ws.on('message', (m) => entry.echoes.push(m.toString()));
      ws.on('close', () => (entry.closed = true));
      sockets.push(entry);
    }
    const chatter = setInterval(() => {
      for (const s of sockets) if (!s.closed) s.ws.send('ping');
    }, 50);
    const { errors, answers } = await underLoad(sy, 20, async (i) => {
      const to = i % 2 === 0 ? 'blue' : 'green';
      await admin(sy, 'POST', '/v1/services/web/switch', { to });
      return { blue: to === 'blue' ? 100 : 0, green: to === 'green' ? 100 : 0 };
    });
    clearInterval(chatter);
    expect(errors).toBe(0);
    expect(answers.filter((a) => a.status !== 200)).toHaveLength(0);
    for (const s of sockets) {
      expect(s.closed).toBe(false);
      expect(s.echoes.length).toBeGreaterThan(20);
      expect(new Set(s.echoes)).toEqual(new Set([`${s.stack}:ping`]));
      s.ws.terminate();
    }
  });
});
