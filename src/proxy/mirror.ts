import { Agent, type ClientRequest, type IncomingMessage, request } from 'node:http';
import type { StackPool } from '../pool/stack-pool.js';
import type { RouteMirror } from '../routing/service-route.js';

/** Methods whose copies are sent (RFC 9110 §9.2.2 idempotent, TRACE aside). */
const MIRRORED = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/** Marks a copy, so the receiving stack can tell it from real traffic (and skip side effects). */
const MIRROR_HEADER = 'X-Switchyard-Mirror';

function ignore(): void {}

/** The declared Content-Length of flat headers, undefined when there is none (chunked). */
function declaredLength(headers: readonly string[]): number | undefined {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name.length === 14 && name.toLowerCase() === 'content-length') return Number(headers[i + 1]);
  }
  return undefined;
}

/** Headers of the copy: the forwarded ones with a Content-Length for the collected body (never chunked), and the mirror mark. */
function copyHeaders(headers: readonly string[], body: Buffer | undefined): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = (headers[i] as string).toLowerCase();
    if (name === 'transfer-encoding' || name === 'content-length') continue;
    out.push(headers[i] as string, headers[i + 1] as string);
  }
  if (body !== undefined) out.push('Content-Length', String(body.length));
  out.push(MIRROR_HEADER, '1');
  return out;
}

/**
 * Mirroring (SPEC §10): a share of idempotent requests is copied to another stack,
 * fire-and-forget. The copy starts after the request was handed to the forwarder and
 * nothing of it reaches the client: its answer is read and dropped, its failures never
 * touch passive health or the stack's request metrics. Bounded: at most `max_concurrent`
 * copies in flight per service (more are dropped, as is a body over `max_body`), each
 * given up after `timeout`. Every copy is counted in `switchyard_mirror_requests_total`.
 */
export class Mirror {
  /** Kept-alive sockets for copies, apart from the forwarder's pool. */
  private readonly agent = new Agent({ keepAlive: true, scheduling: 'lifo' });
  /** Copies in flight (collecting their body or sent), per service. */
  private readonly inFlight = new Map<string, number>();

  /** Copies `req` to the mirror's stack when the draw says so; returns at once, whatever happens to the copy. */
  copy(service: string, mirror: RouteMirror, served: StackPool, req: IncomingMessage, headers: readonly string[], hasBody: boolean): void {
    const pool = mirror.pool;
    if (pool === served || !MIRRORED.has(req.method ?? '') || Math.random() * 100 >= mirror.percent) return;
    const busy = this.inFlight.get(service) ?? 0;
    const declared = hasBody ? declaredLength(headers) : 0;
    if (busy >= mirror.maxConcurrent || (declared !== undefined && declared > mirror.maxBody)) {
      pool.meter.mirror('dropped');
      return;
    }
    this.inFlight.set(service, busy + 1);
    const done = (): void => {
      this.inFlight.set(service, (this.inFlight.get(service) ?? 1) - 1);
    };
    if (!hasBody) {
      this.send(mirror, req, headers, undefined, done);
      return;
    }
    this.collect(mirror, req, headers, done);
  }

  /** Stops reusing sockets (shutdown); copies in flight end on their own timeout. */
  close(): void {
    this.agent.destroy();
  }

  /** Reads the body alongside the forwarder (another 'data' listener), up to `max_body`, then sends the copy. */
  private collect(mirror: RouteMirror, req: IncomingMessage, headers: readonly string[], done: () => void): void {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > mirror.maxBody) {
        stop();
        chunks.length = 0;
        mirror.pool.meter.mirror('dropped');
        done();
      } else chunks.push(chunk);
    };
    const onEnd = (): void => {
      stop();
      this.send(mirror, req, headers, Buffer.concat(chunks, size), done);
    };
    const onClose = (): void => {
      // The client left before its body ended: there is nothing whole to copy.
      stop();
      mirror.pool.meter.mirror('dropped');
      done();
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('close', onClose);
  }

  private send(mirror: RouteMirror, req: IncomingMessage, headers: readonly string[], body: Buffer | undefined, done: () => void): void {
    const meter = mirror.pool.meter;
    const target = mirror.pool.pick();
    if (target === undefined) {
      meter.mirror('failed');
      done();
      return;
    }
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (result: 'answered' | 'failed'): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      meter.mirror(result);
      done();
    };
    let copy: ClientRequest;
    try {
      copy = request({ host: target.host, port: target.port, method: req.method, path: req.url, headers: copyHeaders(headers, body), agent: this.agent });
    } catch {
      settle('failed');
      return;
    }
    timer = setTimeout(() => {
      copy.destroy();
      settle('failed');
    }, mirror.timeout);
    copy.on('response', (res: IncomingMessage) => {
      res.on('error', ignore);
      res.resume();
      res.once('end', () => settle('answered'));
      res.once('close', () => settle('answered'));
    });
    copy.on('error', () => settle('failed'));
    copy.end(body);
  }
}
