import { open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { mkdir } from 'node:fs/promises';
import writeFileAtomic from 'write-file-atomic';
import type { Logger } from 'pino';
import { type PersistedState, readStoredState, type StoredStateProblem } from './stored-state.js';

/** The state file exists but cannot be used; switchyard refuses to start rather than replace it. */
export class StateFileError extends Error {
  constructor(file: string, reason: string) {
    super(`state file ${file} is unusable: ${reason} (fix or move it away; it is never replaced silently)`);
    this.name = 'StateFileError';
  }
}

/**
 * The embedded durable store: one JSON file, replaced atomically (temp file, fsync,
 * rename, fsync of the directory) so a crash leaves either the old or the new state.
 */
export class FileStateStore {
  readonly file: string;
  /** Entries the last `load` left out (each also logged as a warning). */
  problems: readonly StoredStateProblem[] = [];
  private readonly log: Pick<Logger, 'warn'> | undefined;

  constructor(file: string, log?: Pick<Logger, 'warn'>) {
    this.file = file;
    this.log = log;
  }

  /**
   * The stored state, or undefined when there is no file yet. A file that is not a
   * version-1 state document at all is refused (StateFileError); within one, each bad
   * entry is left out with a warning naming it and the rest is used (issue 11).
   */
  async load(): Promise<PersistedState | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new StateFileError(this.file, (err as Error).message);
    }
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (err) {
      throw new StateFileError(this.file, `not JSON (${(err as Error).message})`);
    }
    const read = readStoredState(document);
    if (!read.ok) throw new StateFileError(this.file, read.reason);
    this.problems = read.problems;
    for (const problem of read.problems) {
      this.log?.warn(
        { file: this.file, ...problem },
        `state file: ignoring services.${problem.service}.${problem.field} = ${problem.value}: ${problem.reason}`,
      );
    }
    return read.state;
  }

  /** Stores the state durably; resolves only once it would survive a crash. */
  async save(state: PersistedState): Promise<void> {
    const dir = dirname(this.file);
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(this.file, `${JSON.stringify(state, null, 2)}\n`, { fsync: true, mode: 0o600 });
    // The rename is durable only once the directory entry is flushed too.
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
