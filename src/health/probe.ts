import type { HealthCheckConfig } from '../config/schema.js';
import { hostPart } from '../net/host-port.js';
import type { Target } from '../pool/target.js';
import { connectOrFail } from '../net/connect.js';

/** Outcome of one probe: ok, or the reason it failed. */
export type ProbeResult = { ok: true } | { ok: false; error: string };

/** Most response bytes a probe reads (status line, headers and the start of the body). */
const MAX_READ = 64 * 1024;

/** The request a probe sends: `request_line` verbatim (rancher-compose), else `GET <path> HTTP/1.1`. */
export function probeRequest(check: HealthCheckConfig, target: Target): string {
  const line = check.request_line ?? `GET ${check.path ?? '/'} HTTP/1.1`;
  const host = check.host ?? hostPart(target.address);
  return `${line}\r\nHost: ${host}\r\nUser-Agent: switchyard-health\r\nConnection: close\r\n\r\n`;
}

/** Judges a raw response by `expect_status` and `expect_body`. */
export function judge(check: HealthCheckConfig, raw: string): ProbeResult {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
  if (!match) return { ok: false, error: 'not an HTTP response' };
  const status = Number(match[1]);
  const [low, high] = check.expect_status;
  if (status < low || status > high) return { ok: false, error: `status ${status}` };
  if (check.expect_body !== undefined) {
    const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
    if (!body.includes(check.expect_body)) return { ok: false, error: `body lacks "${check.expect_body}"` };
  }
  return { ok: true };
}

/**
 * Probes one target on its own short-lived connection (`Connection: close`, read to
 * EOF), with a hard timer: a probe never outlives `response_timeout`, and a hung
 * target never holds up another.
 */
export function probe(check: HealthCheckConfig, target: Target): Promise<ProbeResult> {
  return new Promise((resolve) => {
    // A port net.connect refuses fails the probe like a refused connection, never the checker.
    const socket = connectOrFail({ host: target.host, port: check.port ?? target.port });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ ok: false, error: `timeout after ${check.response_timeout} ms` }), check.response_timeout);
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write(probeRequest(check, target)));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      const raw = Buffer.concat(chunks).toString('latin1');
      if (size >= MAX_READ) return finish(judge(check, raw));
      // Decide as soon as the answer is known, in case the target ignores `Connection: close`.
      if (!raw.includes('\r\n\r\n')) return;
      const verdict = judge(check, raw);
      if (verdict.ok || check.expect_body === undefined) finish(verdict);
    });
    socket.on('end', () => finish(size === 0 ? { ok: false, error: 'closed without a response' } : judge(check, Buffer.concat(chunks).toString('latin1'))));
    socket.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, error: err.code ?? err.message }));
  });
}
