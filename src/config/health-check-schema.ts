import { z } from 'zod';
import { durationSchema as duration } from './duration.js';
import { pathPrefix, port, positiveInt } from './primitives.js';

const statusRange = z.union([z.number().int(), z.string()]).transform((value, ctx) => {
  const match = /^(\d{3})(?:-(\d{3}))?$/.exec(String(value).trim());
  const low = match ? Number(match[1]) : NaN;
  const high = match ? Number(match[2] ?? match[1]) : NaN;
  if (!match || low < 100 || high > 599 || low > high) {
    ctx.addIssue({ code: 'custom', message: 'must be a status or a range such as "200-399"' });
    return z.NEVER;
  }
  return [low, high] as const;
});

const requestLine = z.string().regex(/^[A-Z]+ \/\S* HTTP\/1\.[01]$/, 'must look like "GET /health HTTP/1.0"');

/**
 * Active health check of every target. The rancher-compose keys (`port`, `interval`,
 * `unhealthy_threshold`, `request_line`, `healthy_threshold`, `response_timeout`, plus
 * its `strategy`/`*_timeout` keys, which are accepted and ignored) work as they are.
 */
export const healthCheck = z
  .object({
    /** Path probed with GET; default `/`. */
    path: pathPrefix.optional(),
    /** Alternative to path: a whole request line, e.g. `GET /health HTTP/1.0`. */
    request_line: requestLine.optional(),
    /** Port to probe; default: the target's own port. */
    port: port.optional(),
    /** Host header sent by the probe; default: the target address. */
    host: z.string().min(1).optional(),
    /** Time between probes of one target (default 2s). */
    interval: duration.default(2000),
    /** A probe not answered within this fails (default 2s). */
    response_timeout: duration.default(2000),
    /** Consecutive successes that make a target healthy (default 2). */
    healthy_threshold: positiveInt.default(2),
    /** Consecutive failures that make a target unhealthy (default 3). */
    unhealthy_threshold: positiveInt.default(3),
    /** Statuses counted as success (default "200-399"). */
    expect_status: statusRange.default([200, 399]),
    /** Optional substring the body must contain. */
    expect_body: z.string().optional(),
    strategy: z.string().optional(),
    initializing_timeout: z.unknown().optional(),
    reinitializing_timeout: z.unknown().optional(),
  })
  .strict()
  .refine((hc) => !(hc.path && hc.request_line), 'give either path or request_line, not both');
