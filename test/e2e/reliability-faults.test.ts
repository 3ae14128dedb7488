import { Agent } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { defer } from '../helpers/cleanup.js';
import { startFaultyUpstream, type Fault, type FaultyUpstream } from '../helpers/faulty-upstreams.js';
import { get } from '../helpers/http.js';
import { startSwitchyard, waitFor } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let app: Switchyard | undefined;

/**
 * Runs `clients` keep-alive loops until `during(answered)` resolves, where `answered()`
 * counts the requests finished so far; returns statuses and socket errors.
 */
async function load(
  port: number,
  clients: number,
  during: (answered: () => number) => Promise<void>,
  method = 'GET',
): Promise<{ statuses: number[]; errors: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  defer(() => agent.destroy());
  const statuses: number[] = [];
  let errors = 0;
  let running = true;
  const loop = async () => {
    while (running) {
      try {
        statuses.push((await get(port, { agent, method, body: method === 'POST' ? 'payload' : undefined })).status);
      } catch {
        errors++;
      }
    }
  };
  const loops = Array.from({ length: clients }, loop);
  await during(() => statuses.length + errors);
  running = false;
  await Promise.all(loops);
  return { statuses, errors };
}

/** Resolves once `n` more requests have finished: a load phase measured in requests, not in time a loaded box may stretch. */
function requests(n: number): (answered: () => number) => Promise<void> {
  return (answered) => {
    const from = answered();
    return waitFor(() => answered() >= from + n, 15_000, `${n} more answers`);
  };
}

async function withSibling(fault: Fault, service: Record<string, unknown> = {}): Promise<{ bad: FaultyUpstream; good: Upstream; port: number }> {
  const bad = await startFaultyUpstream(fault);
  const good = await startUpstream('good');
  app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [bad.address, good.address] } }, ...service }]);
  return { bad, good, port: app.port('http') };
}

describe('target faults under load', () => {
  it('loses no request when a target dies abruptly (SIGKILL-like) while a sibling is healthy', async () => {
    const { bad, port } = await withSibling('healthy-until-killed');
    const result = await load(port, 10, async (answered) => {
      await requests(200)(answered);
      await bad.kill();
      await requests(300)(answered);
    });
    expect(result.errors).toBe(0);
    expect(result.statuses.length).toBeGreaterThan(50);
    expect(result.statuses.filter((s) => s !== 200)).toEqual([]);
  });

  it('loses no request when a target resets every connection', async () => {
    const { bad, port } = await withSibling('reset-on-connect');
    const result = await load(port, 10, requests(300));
    expect(bad.connections()).toBeGreaterThan(0);
    expect(result.errors).toBe(0);
    expect(result.statuses.filter((s) => s !== 200)).toEqual([]);
  });

  it.each(['GET', 'POST'])('retries %s over a keep-alive socket the target closes exactly on reuse (nodejs/node#47130)', async (method) => {
    const { bad, port } = await withSibling('close-on-reuse');
    const result = await load(port, 10, requests(300), method);
    expect(bad.requests()).toBeGreaterThan(1);
    expect(result.errors).toBe(0);
    expect(result.statuses.filter((s) => s !== 200)).toEqual([]);
  });

  it('loses no GET to a sibling that accepts and never answers, and ejects it after a few timeouts', async () => {
    const { bad, port } = await withSibling('black-hole', { response_timeout: 200 });
    // A timed-out GET is retried on the sibling; three timeouts in a row eject the target.
    const ejected = new Promise<void>((resolve) =>
      app!.controller.events.subscribe((e) => {
        if (e.type === 'health' && e.target === bad.address && e.source === 'passive' && !e.healthy) resolve();
      }),
    );
    const warmup = await load(port, 10, () => ejected);
    expect(bad.requests()).toBeGreaterThan(0);
    expect(warmup.errors).toBe(0);
    expect(warmup.statuses.filter((s) => s !== 200)).toEqual([]);
    const seen = bad.requests();
    // Ejected for fail_timeout (10 s by default): none of the next 300 requests may reach it.
    const after = await load(port, 10, requests(300));
    expect(after.errors).toBe(0);
    expect(after.statuses.filter((s) => s !== 200)).toEqual([]);
    expect(bad.requests()).toBe(seen);
  });

  it('answers 502 quickly when the only target resets, and 504 within the response timeout when it never answers', async () => {
    const reset = await startFaultyUpstream('reset-on-connect');
    const hole = await startFaultyUpstream('black-hole');
    app = await startSwitchyard([
      { name: 'reset', hosts: ['reset.test'], stacks: { blue: { targets: [reset.address] } } },
      { name: 'hole', hosts: ['hole.test'], response_timeout: 300, stacks: { blue: { targets: [hole.address] } } },
    ]);
    const port = app.port('http');
    const status = async (host: string) => (await get(port, { headers: { host } })).status;
    expect(await status('reset.test')).toBe(502);
    const started = Date.now();
    expect(await status('hole.test')).toBe(504);
    // The 300 ms response_timeout, not the 30 s default (loose: a loaded box may be slow).
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it.each(['bad-status-line', 'cl-and-te', 'bad-chunk'] as const)('turns an upstream response with broken framing (%s) into 502', async (fault) => {
    const bad = await startFaultyUpstream(fault);
    app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [bad.address] } } }]);
    const reply = await get(app.port('http')).catch(() => ({ status: -1, body: '' }));
    // A broken chunk may surface after a 200 head was already sent: then the client connection must be cut, not completed.
    if (fault === 'bad-chunk' && reply.status === -1) return;
    expect(reply.status).toBe(502);
  });
});
