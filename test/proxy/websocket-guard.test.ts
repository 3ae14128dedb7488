import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { WebSocketGuard } from '../../src/proxy/websocket-guard.js';

/** A masked client frame header for a payload of `length` bytes (the payload follows separately). */
function header(length: number, { fin = true, opcode = 0x2 } = {}): Buffer {
  const first = (fin ? 0x80 : 0) | opcode;
  const mask = [1, 2, 3, 4];
  if (length < 126) return Buffer.from([first, 0x80 | length, ...mask]);
  if (length < 65_536) {
    const h = Buffer.from([first, 0x80 | 126, 0, 0, ...mask]);
    h.writeUInt16BE(length, 2);
    return h;
  }
  const h = Buffer.from([first, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 0, ...mask]);
  h.writeBigUInt64BE(BigInt(length), 2);
  return h;
}

function guarded(maxMessage: number): { socket: PassThrough; guard: WebSocketGuard; written: Buffer[] } {
  const socket = new PassThrough();
  const written: Buffer[] = [];
  socket.on('data', () => undefined);
  socket.on('error', () => undefined);
  const write = socket.write.bind(socket);
  socket.write = ((chunk: Buffer) => {
    written.push(chunk);
    return write(chunk);
  }) as typeof socket.write;
  const guard = new WebSocketGuard(socket, { maxMessage, idleTimeout: 60_000 });
  return { socket, guard, written };
}

describe('WebSocketGuard', () => {
  it('lets messages up to the limit through, frame headers and payloads split anywhere', () => {
    const { socket, guard } = guarded(70_000);
    const stream = Buffer.concat([
      header(100),
      Buffer.alloc(100),
      header(300),
      Buffer.alloc(300),
      header(70_000),
      Buffer.alloc(70_000),
      header(0, { opcode: 0x9 }),
    ]);
    for (let at = 0; at < stream.length; at += 7) guard.read(stream.subarray(at, at + 7));
    expect(socket.destroyed).toBe(false);
  });

  it('closes with 1009 when one frame is over the limit', () => {
    const { socket, guard, written } = guarded(1000);
    guard.read(header(1001));
    expect(socket.destroyed).toBe(true);
    expect(written.at(-1)).toEqual(Buffer.from([0x88, 0x02, 0x03, 0xf1]));
  });

  it('adds up the fragments of one message, and starts over after FIN', () => {
    const ok = guarded(1000);
    ok.guard.read(Buffer.concat([header(600, { fin: false }), Buffer.alloc(600), header(300, { fin: true, opcode: 0 }), Buffer.alloc(300)]));
    ok.guard.read(Buffer.concat([header(900), Buffer.alloc(900)]));
    expect(ok.socket.destroyed).toBe(false);
    const tooBig = guarded(1000);
    tooBig.guard.read(
      Buffer.concat([
        header(600, { fin: false }),
        Buffer.alloc(600),
        header(0x0a, { fin: true, opcode: 0x9 }),
        Buffer.alloc(10),
        header(500, { fin: true, opcode: 0 }),
      ]),
    );
    expect(tooBig.socket.destroyed).toBe(true);
  });
});
