import { type ClientHttp2Session, connect as h2connect, type IncomingHttpHeaders, type OutgoingHttpHeaders, type SecureClientSessionOptions } from 'node:http2';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { defer } from './cleanup.js';

/** Opens an HTTP/2 session to 127.0.0.1:`port` (certificate not verified unless `options` say so), once the server's SETTINGS arrived; closed when the test ends. */
export async function h2Session(port: number, options: SecureClientSessionOptions = {}): Promise<ClientHttp2Session> {
  const session = h2connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false, ...options });
  defer(() => session.destroy());
  session.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    session.once('remoteSettings', () => resolve());
    session.once('error', reject);
  });
  return session;
}

/** A whole HTTP/2 reply, or how the stream ended without one. */
export interface H2Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  trailers: IncomingHttpHeaders | undefined;
  /** RST_STREAM code the stream closed with (0: none). */
  rstCode: number;
}

/** One request on `session` (`:path` `/` and GET unless `headers` say otherwise); resolves when the stream closes. */
export function h2Request(session: ClientHttp2Session, headers: OutgoingHttpHeaders = {}, body?: string | Buffer | (string | Buffer)[]): Promise<H2Reply> {
  return new Promise((resolve) => {
    // CONNECT carries no :path (RFC 9113 §8.5).
    const all = headers[':method'] === 'CONNECT' ? headers : { ':path': '/', ...headers };
    const stream = session.request(all, { endStream: body === undefined });
    const reply: H2Reply = { status: 0, headers: {}, body: '', trailers: undefined, rstCode: 0 };
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      reply.status = Number(h[':status']);
      reply.headers = h;
    });
    stream.on('trailers', (t) => {
      reply.trailers = t;
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => undefined);
    stream.on('close', () => {
      reply.body = Buffer.concat(chunks).toString('utf8');
      reply.rstCode = stream.rstCode ?? 0;
      resolve(reply);
    });
    if (Array.isArray(body)) {
      for (const part of body) stream.write(part);
      stream.end();
    } else if (body !== undefined) stream.end(body);
  });
}

/** HTTP/2 frame types and error codes the raw client uses (RFC 9113 §6, §7). */
export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7 } as const;
export const H2_ERROR = { NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, REFUSED_STREAM: 7, CANCEL: 8, ENHANCE_YOUR_CALM: 11 } as const;

/** One frame: 9-byte header and payload. */
export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK integer with an `n`-bit prefix (RFC 7541 §5.1) whose high bits are `mask`. */
function hpackInt(value: number, n: number, mask: number): number[] {
  const max = (1 << n) - 1;
  if (value < max) return [mask | value];
  const out = [mask | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

function hpackString(value: string): Buffer {
  const bytes = Buffer.from(value, 'latin1');
  return Buffer.concat([Buffer.from(hpackInt(bytes.length, 7, 0)), bytes]);
}

/**
 * An HPACK header block of literal fields without indexing (RFC 7541 §6.2.2), no Huffman:
 * what any field list encodes to, pseudo-headers included, with no encoder state.
 */
export function headerBlock(fields: readonly (readonly [string, string])[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) parts.push(Buffer.from([0]), hpackString(name), hpackString(value));
  return Buffer.concat(parts);
}

/** The frames a raw client saw, by kind. */
export interface RawEvents {
  goaway: { lastStream: number; code: number } | undefined;
  /** RST_STREAM code per stream id. */
  resets: Map<number, number>;
  /** Stream ids that got a HEADERS frame (a response). */
  answered: Set<number>;
}

/**
 * A bare HTTP/2 client over TLS (ALPN h2) that writes frames exactly as told: what a
 * misbehaving client sends (a stream reset right after it is opened, more streams than
 * allowed). It acknowledges the server's SETTINGS and records GOAWAY, RST_STREAM and
 * response HEADERS frames.
 */
export class RawH2 {
  readonly socket: TLSSocket;
  readonly events: RawEvents = { goaway: undefined, resets: new Map(), answered: new Set() };
  readonly closed: Promise<void>;
  private buffer: Buffer = Buffer.alloc(0);

  private constructor(socket: TLSSocket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.on('data', (data: Buffer) => this.read(data));
  }

  /** Connects, negotiates h2 and sends the connection preface and an empty SETTINGS frame. */
  static async open(port: number, servername = 'localhost'): Promise<RawH2> {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, ALPNProtocols: ['h2'], rejectUnauthorized: false });
    defer(() => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    if (socket.alpnProtocol !== 'h2') throw new Error(`ALPN gave ${String(socket.alpnProtocol)}, not h2`);
    const client = new RawH2(socket);
    socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), frame(FRAME.SETTINGS, 0, 0)]));
    return client;
  }

  /** Writes `bytes`; resolves when the socket takes more (false when it closed first). */
  write(bytes: Buffer): Promise<boolean> {
    if (this.socket.destroyed || !this.socket.writable) return Promise.resolve(false);
    if (this.socket.write(bytes)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        this.socket.off('drain', onDrain);
        this.socket.off('close', onClose);
        resolve(ok);
      };
      const onDrain = () => done(true);
      const onClose = () => done(false);
      this.socket.once('drain', onDrain);
      this.socket.once('close', onClose);
    });
  }

  /** A HEADERS frame for a GET of `path` on `stream` (END_HEADERS, and END_STREAM unless `open`). */
  static get(stream: number, path = '/', authority = 'localhost', extra: readonly (readonly [string, string])[] = [], open = false): Buffer {
    const block = headerBlock([[':method', 'GET'], [':scheme', 'https'], [':path', path], [':authority', authority], ...extra]);
    return frame(FRAME.HEADERS, open ? 0x4 : 0x5, stream, block);
  }

  /** An RST_STREAM frame. */
  static rst(stream: number, code: number = H2_ERROR.CANCEL): Buffer {
    const payload = Buffer.alloc(4);
    payload.writeUInt32BE(code);
    return frame(FRAME.RST_STREAM, 0, stream, payload);
  }

  private read(data: Buffer): void {
    this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
    while (this.buffer.length >= 9) {
      const length = this.buffer.readUIntBE(0, 3);
      if (this.buffer.length < 9 + length) return;
      const type = this.buffer[3];
      const flags = this.buffer[4] ?? 0;
      const stream = this.buffer.readUInt32BE(5) & 0x7fffffff;
      const payload = this.buffer.subarray(9, 9 + length);
      this.buffer = this.buffer.subarray(9 + length);
      if (type === FRAME.SETTINGS && (flags & 1) === 0) this.socket.write(frame(FRAME.SETTINGS, 1, 0));
      else if (type === FRAME.GOAWAY) this.events.goaway = { lastStream: payload.readUInt32BE(0) & 0x7fffffff, code: payload.readUInt32BE(4) };
      else if (type === FRAME.RST_STREAM) this.events.resets.set(stream, payload.readUInt32BE(0));
      else if (type === FRAME.HEADERS) this.events.answered.add(stream);
    }
  }
}
