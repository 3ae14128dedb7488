import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { RawClient } from '../helpers/raw-http.js';
import { startSwitchyard, waitFor } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/** More than loopback socket buffers hold: a client that does not read never sees this response finish. */
const BIG = Buffer.alloc(8 * 1024 * 1024, 'x');
/** Far more than loopback buffers take even once autotuned (a client that reads nothing never gets all of it). */
const HUGE = Buffer.alloc(48 * 1024 * 1024, 'h');

/** An upstream answering `/n` with "n" after a short pause; counts its open connections and the most at once. */
async function countingUpstream(): Promise<{ up: Upstream; open: () => number; most: () => number; inFlight: () => number; mostInFlight: () => number }> {
  let open = 0;
  let most = 0;
  let inFlight = 0;
  let mostInFlight = 0;
  const up = await startUpstream('n', (req, res) => {
    inFlight++;
    mostInFlight = Math.max(mostInFlight, inFlight);
    setTimeout(() => {
      inFlight--;
      res.end(req.url === '/big' ? BIG : req.url === '/huge' ? HUGE : `<${(req.url ?? '/').slice(1)}>`);
    }, 2);
  });
  up.server.on('connection', (socket: Socket) => {
    open++;
    most = Math.max(most, open);
    socket.on('close', () => open--);
  });
  return { up, open: () => open, most: () => most, inFlight: () => inFlight, mostInFlight: () => mostInFlight };
}

/** A switchyard in front of a counting upstream, and a raw client connected to it. */
async function pipeline(): Promise<{ counting: Awaited<ReturnType<typeof countingUpstream>>; client: RawClient }> {
  const counting = await countingUpstream();
  const app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [counting.up.address] } } }]);
  const client = new RawClient(app.port('http'));
  await client.ready();
  return { counting, client };
}

describe('HTTP/1.1 pipelining', () => {
  it('forwards the requests of one connection one at a time, on at most one upstream connection, answered in order', async () => {
    const { counting, client } = await pipeline();
    let burst = '';
    for (let i = 0; i < 50; i++) burst += `GET /${i} HTTP/1.1\r\nHost: web\r\n\r\n`;
    client.write(burst);
    await waitFor(() => client.text.includes('<49>'), 10_000, 'all 50 answers');
    const order = [...client.text.matchAll(/<(\d+)>/g)].map((m) => Number(m[1]));
    expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(counting.mostInFlight()).toBe(1);
    expect(counting.most()).toBe(1);
  });

  it('delivers large pipelined responses whole and in order to a client that reads late', async () => {
    const { counting, client } = await pipeline();
    client.socket.pause();
    client.write(
      'GET /big HTTP/1.1\r\nHost: web\r\n\r\nGET /1 HTTP/1.1\r\nHost: web\r\n\r\nGET /big HTTP/1.1\r\nHost: web\r\n\r\nGET /3 HTTP/1.1\r\nHost: web\r\n\r\n',
    );
    await waitFor(() => counting.up.requests.length >= 1, 5000, 'the first request upstream');
    await new Promise((r) => setTimeout(r, 200));
    const chunks: Buffer[] = [];
    client.socket.removeAllListeners('data');
    client.socket.on('data', (d: Buffer) => chunks.push(d));
    client.socket.resume();
    const expected = 2 * BIG.length + 2 * 3;
    await waitFor(() => Buffer.concat(chunks).toString('latin1').includes('<3>'), 10_000, 'all four answers');
    const text = Buffer.concat(chunks).toString('latin1');
    const bodies = text.split(/HTTP\/1\.1 200 OK\r\n[\s\S]*?\r\n\r\n/).slice(1);
    expect(bodies.map((b) => (b.startsWith('<') ? b : b.length))).toEqual([BIG.length, '<1>', BIG.length, '<3>']);
    expect(bodies.join('').length).toBe(expected);
    expect(counting.most()).toBe(1);
  });

  it('drops the waiting requests when the client leaves: they never reach the upstream', async () => {
    const { counting, client } = await pipeline();
    client.socket.pause(); // never reads: the first response never finishes
    let burst = '';
    for (let i = 0; i < 50; i++) burst += 'GET /huge HTTP/1.1\r\nHost: web\r\n\r\n';
    client.write(burst);
    await waitFor(() => counting.up.requests.length >= 1, 5000, 'the first request upstream');
    client.destroy();
    await waitFor(() => counting.inFlight() === 0, 5000, 'the upstream idle');
    // Give any wrongly started request a moment to show up upstream.
    await new Promise((r) => setTimeout(r, 100));
    expect(counting.up.requests.length).toBe(1);
    expect(counting.mostInFlight()).toBe(1);
  });
});
