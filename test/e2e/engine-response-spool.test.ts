import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { get } from '../helpers/http.js';
import { RawClient } from '../helpers/raw-http.js';
import { startSwitchyard, waitFor } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/** 8 MB of random bytes: more than a paused client's loopback socket buffers take here (2 MB fits in them), and any corruption shows in the digest. */
const BIG = randomBytes(8 * 1024 * 1024);
const BIG_DIGEST = createHash('sha256').update(BIG).digest('hex');

/** An upstream that answers /big with BIG and anything else with "ok"; counts /big responses written in full and its busy connections. */
async function bigUpstream(): Promise<{ up: Upstream; answered: () => number; busy: () => number }> {
  let answered = 0;
  let busy = 0;
  const up = await startUpstream('ok', (req, res) => {
    if (req.url !== '/big') return void res.end('ok');
    busy++;
    res.on('close', () => busy--);
    res.on('finish', () => answered++);
    res.end(BIG);
  });
  return { up, answered: () => answered, busy: () => busy };
}

/** Temp files of spools the test process (where switchyard runs) holds open. */
function openSpoolFiles(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).includes('switchyard-spool-')) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** Bytes in the spool temp files the test process holds open (unlinked, so only reachable through /proc). */
function spoolFileBytes(): number {
  let bytes = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).includes('switchyard-spool-')) bytes += statSync(`/proc/self/fd/${fd}`).size;
    } catch {
      // closed meanwhile
    }
  }
  return bytes;
}

/** A client that asks for /big and does not read. */
async function slowClient(port: number): Promise<RawClient> {
  const c = new RawClient(port);
  await c.ready();
  c.socket.pause();
  c.write('GET /big HTTP/1.1\r\nHost: web\r\n\r\n');
  return c;
}

/** The body of one response in `raw` (Content-Length framed), or undefined when incomplete. */
function bodyOf(raw: Buffer): Buffer | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const length = Number(/content-length: (\d+)/i.exec(raw.subarray(0, end).toString('latin1'))?.[1]);
  const body = raw.subarray(end + 4);
  return body.length >= length ? body.subarray(0, length) : undefined;
}

describe('responses spooled for slow readers (limits.response_spool)', () => {
  it('frees the upstream connections of clients that do not read, serves others meanwhile, and delivers each body intact later', async () => {
    const big = await bigUpstream();
    const app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [big.up.address] } } }], { upstream: { max_sockets: 4 } });
    const port = app.port('http');
    const slow: RawClient[] = [];
    for (let i = 0; i < 6; i++) slow.push(await slowClient(port));
    // More slow readers than max_sockets: every response still completes upstream.
    await waitFor(() => big.answered() === 6, 10_000, 'all 6 responses written in full upstream');
    await waitFor(() => big.busy() === 0, 5000, 'no busy upstream connection');
    expect(openSpoolFiles()).toBeGreaterThan(0);
    expect((await get(port, { headers: { host: 'web' } })).status).toBe(200);
    // Now the slow readers read: every byte arrives, in order.
    const received = slow.map((c) => {
      const chunks: Buffer[] = [];
      c.socket.removeAllListeners('data');
      c.socket.on('data', (d: Buffer) => chunks.push(d));
      c.socket.resume();
      return chunks;
    });
    await waitFor(() => received.every((chunks) => bodyOf(Buffer.concat(chunks)) !== undefined), 10_000, 'every slow reader got its body');
    for (const chunks of received) {
      const raw = Buffer.concat(chunks);
      expect(raw.subarray(0, 12).toString()).toBe('HTTP/1.1 200');
      expect(
        createHash('sha256')
          .update(bodyOf(raw) as Buffer)
          .digest('hex'),
      ).toBe(BIG_DIGEST);
    }
    await waitFor(() => openSpoolFiles() === 0, 5000, 'spool files closed');
  });

  it('removes the temp file when the client leaves mid-spool', async () => {
    const big = await bigUpstream();
    const app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [big.up.address] } } }]);
    const c = await slowClient(app.port('http'));
    await waitFor(() => big.answered() === 1, 10_000, 'the response written in full upstream');
    await waitFor(() => openSpoolFiles() === 1, 5000, 'a spool file');
    c.destroy();
    await waitFor(() => openSpoolFiles() === 0, 5000, 'the spool file closed');
  });

  it('still closes a client that takes nothing for limits.send_timeout, and only that one', async () => {
    const big = await bigUpstream();
    const app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [big.up.address] } } }], { limits: { send_timeout: '500ms' } });
    const c = await slowClient(app.port('http'));
    await waitFor(() => big.answered() === 1, 10_000, 'the response written in full upstream');
    // Node closes the connection from its side; the client, not reading, sees it once it reads.
    await waitFor(() => openSpoolFiles() === 0, 10_000, 'the spool dropped after send_timeout');
    c.socket.resume();
    await waitFor(() => c.closed, 10_000, 'the slow client closed');
    expect((await get(app.port('http'), { headers: { host: 'web' } })).status).toBe(200);
  });

  it.each([
    ['response_spool', { response_spool: 1_048_576 }],
    ['response_spool_total', { response_spool_total: 1_048_576 }],
  ])('past %s bytes pauses the upstream until the client catches up, and the body still arrives intact', async (_key, limits) => {
    const big = await bigUpstream();
    const app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [big.up.address] } } }], { limits });
    const c = await slowClient(app.port('http'));
    await waitFor(() => openSpoolFiles() === 1, 5000, 'a spool file');
    await new Promise((r) => setTimeout(r, 200));
    // 8 MB do not fit: the upstream waits, and the file stays within the bound (plus the one read that passed it).
    expect(spoolFileBytes()).toBeGreaterThan(0);
    expect(spoolFileBytes()).toBeLessThanOrEqual(1_048_576 + 256 * 1024);
    const chunks: Buffer[] = [];
    c.socket.removeAllListeners('data');
    c.socket.on('data', (d: Buffer) => chunks.push(d));
    c.socket.resume();
    await waitFor(() => bodyOf(Buffer.concat(chunks)) !== undefined, 10_000, 'the whole body');
    expect(
      createHash('sha256')
        .update(bodyOf(Buffer.concat(chunks)) as Buffer)
        .digest('hex'),
    ).toBe(BIG_DIGEST);
    expect(big.answered()).toBe(1);
  });

  it('with response_spool: 0 pauses the upstream instead (no temp file)', async () => {
    const big = await bigUpstream();
    const app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [big.up.address] } } }], { limits: { response_spool: 0 } });
    await slowClient(app.port('http'));
    await waitFor(() => big.busy() === 1, 5000, 'the request upstream');
    await new Promise((r) => setTimeout(r, 300));
    expect(openSpoolFiles()).toBe(0);
    expect(big.busy()).toBe(1);
  });
});
