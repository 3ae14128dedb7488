import { Command } from 'commander';
import { vi } from 'vitest';
import { AdminClient } from '../../src/cli/admin-client.js';
import { registerCertCommands } from '../../src/cli/commands/cert.js';

/** Runs `switchyard <args>` of the cert commands in this process against the admin API at `base`; what it printed and its exit code. */
export async function runCertCli(base: string, ...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  const program = new Command('switchyard').exitOverride();
  registerCertCommands(program, () => new AdminClient(base, undefined));
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    process.exitCode = undefined;
    await program.parseAsync(args, { from: 'user' });
    return { stdout, stderr, code: Number(process.exitCode ?? 0) };
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.exitCode = undefined;
  }
}
