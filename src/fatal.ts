import type { Logger } from 'pino';

/**
 * The last resort. Every timer and socket callback that can fail is guarded where it
 * runs (issue 11), so an exception that still arrives here comes from a state nobody
 * foresaw; serving on from it could do worse than stopping. As an nginx or Envoy worker
 * would, the process says so loudly (a fatal log line and stderr) and exits non-zero
 * at once, so the supervisor (the primary, for a worker) starts a clean one; there is no
 * drain from an unknown state.
 */
export function exitOnUncaught(log: Logger, code = 1): void {
  const die = (kind: string) => (err: unknown) => {
    log.fatal({ err }, `${kind}; exiting`);
    process.stderr.write(`fatal: ${kind}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(code);
  };
  process.on('uncaughtException', die('uncaught exception'));
  process.on('unhandledRejection', die('unhandled promise rejection'));
}
