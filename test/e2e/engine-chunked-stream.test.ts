import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RawClient } from '../helpers/raw-http.js';
import { startSwitchyard, waitFor } from '../helpers/switchyard.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

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

/** A client of a switchyard in front of echoDigest that sent a chunked POST of CHUNKS chunks of "a", without its last chunk yet. */
async function unfinishedUpload(): Promise<RawClient> {
  const up = await echoDigest();
  const app = await startSwitchyard([{ name: 'web', stacks: { blue: { targets: [up.address] } } }]);
  const client = new RawClient(app.port('http'));
  await client.ready();
  const piece = Buffer.alloc(CHUNK, 'a');
  client.write('POST /upload HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n');
  for (let i = 0; i < CHUNKS; i++) {
    client.socket.write(`${CHUNK.toString(16)}\r\n`);
    client.socket.write(piece);
    client.socket.write('\r\n');
  }
  return client;
}

describe('a chunked request body longer than limits.request_buffer', () => {
  it('arriving in parts with pauses is forwarded whole (200) and the upstream receives it intact', async () => {
    const client = await unfinishedUpload();
    const digest = createHash('sha256')
      .update(Buffer.alloc(CHUNK * CHUNKS, 'a'))
      .digest('hex');
    // The terminator comes later, after the read-ahead buffer has filled and streaming began.
    await new Promise((r) => setTimeout(r, 200));
    client.write('0\r\n\r\n');
    await waitFor(() => client.text.includes(`${CHUNK * CHUNKS} `), 10_000, 'the response');
    expect(client.text.startsWith('HTTP/1.1 200')).toBe(true);
    expect(client.text).toContain(`${CHUNK * CHUNKS} ${digest}`);
  });

  it('with a malformed chunk after the first MiB streamed: 400 (no response yet) or the connection closes promptly', async () => {
    const client = await unfinishedUpload();
    await new Promise((r) => setTimeout(r, 200));
    const sentBad = Date.now();
    client.write('zz\r\n\r\n');
    await waitFor(() => client.closed || client.text.length > 0, 5000, 'an answer or a close');
    expect(Date.now() - sentBad).toBeLessThan(5000);
    if (client.text.length > 0) expect(client.text.startsWith('HTTP/1.1 400')).toBe(true);
  });
});
