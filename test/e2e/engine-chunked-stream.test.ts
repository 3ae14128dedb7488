import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Switchyard } from '../../src/app.js';
import { RawClient } from '../helpers/raw-http.js';
import { startSwitchyard, waitFor } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let app: Switchyard | undefined;
const upstreams: Upstream[] = [];
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await app?.stop(0);
  app = undefined;
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

/** An upstream that answers with the length and sha256 of the body it received. */
async function echoDigest(): Promise<Upstream> {
  return startUpstream('digest', (req, res) => {
    const hash = createHash('sha256');
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      hash.update(c);
    });
    req.on('end', () => res.end(`${size} ${hash.digest('hex')}`));
    req.on('error', () => undefined);
  });
}

const CHUNK = 0x10000;
const CHUNKS = 20; // 1.25 MiB: past limits.request_buffer (1 MiB)

function chunkedHead(): string {
  return 'POST /upload HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n';
}

describe('a chunked request body longer than limits.request_buffer', () => {
  it('arriving in parts with pauses is forwarded whole (200) and the upstream receives it intact', async () => {
    const up = await echoDigest();
    upstreams.push(up);
    app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [up.address] } } }]);
    const client = new RawClient(app.port('http'));
    clients.push(client);
    await client.ready();
    const piece = Buffer.alloc(CHUNK, 'a');
    const hash = createHash('sha256');
    client.write(chunkedHead());
    for (let i = 0; i < CHUNKS; i++) {
      client.socket.write(`${CHUNK.toString(16)}\r\n`);
      client.socket.write(piece);
      client.socket.write('\r\n');
      hash.update(piece);
    }
    // The terminator comes later, after the read-ahead buffer has filled and streaming began.
    await new Promise((r) => setTimeout(r, 200));
    client.write('0\r\n\r\n');
    await waitFor(() => client.text.includes(`${CHUNK * CHUNKS} `), 10_000, 'the response');
    expect(client.text.startsWith('HTTP/1.1 200')).toBe(true);
    expect(client.text).toContain(`${CHUNK * CHUNKS} ${hash.digest('hex')}`);
  });

  it('with a malformed chunk after the first MiB streamed: 400 (no response yet) or the connection closes promptly', async () => {
    const up = await echoDigest();
    upstreams.push(up);
    app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [up.address] } } }]);
    const client = new RawClient(app.port('http'));
    clients.push(client);
    await client.ready();
    const piece = Buffer.alloc(CHUNK, 'a');
    client.write(chunkedHead());
    for (let i = 0; i < CHUNKS; i++) {
      client.socket.write(`${CHUNK.toString(16)}\r\n`);
      client.socket.write(piece);
      client.socket.write('\r\n');
    }
    await new Promise((r) => setTimeout(r, 200));
    const sentBad = Date.now();
    client.write('zz\r\n\r\n');
    await waitFor(() => client.closed || client.text.length > 0, 5000, 'an answer or a close');
    expect(Date.now() - sentBad).toBeLessThan(5000);
    if (client.text.length > 0) expect(client.text.startsWith('HTTP/1.1 400')).toBe(true);
  });
});
