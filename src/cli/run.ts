import { AdminCallError } from './admin-client.js';

/** Exit codes of SPEC §6. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/**
 * Runs one CLI action that calls the admin API: prints its output on success, or the
 * API's error message on stderr with exit code 1.
 */
export async function runCall(action: () => Promise<string>): Promise<void> {
  try {
    const output = await action();
    if (output) process.stdout.write(output.endsWith('\n') ? output : `${output}\n`);
  } catch (err) {
    if (err instanceof AdminCallError) {
      process.stderr.write(`error: ${err.code}: ${err.message}\n`);
      process.exitCode = EXIT.failed;
      return;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exitCode = EXIT.usage;
      return;
    }
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exitCode = EXIT.failed;
  }
}

/** Bad command-line usage (exit 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
