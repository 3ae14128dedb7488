import { open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { mkdir } from 'node:fs/promises';
import writeFileAtomic from 'write-file-atomic';
import type { Logger } from 'pino';
import type { ServiceState } from '../routing/service-state.js';
import type { StateStore, StoreCommit, VersionedState } from './state-store.js';
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
export class FileStateStore implements StateStore {
  /** One instance, one file: no fleet, so events carry no origin. */
  readonly origin = undefined;
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

  /** StateStore: the file's services (version 0: a file has one writer, nothing to race). */
  async loadServices(): Promise<ReadonlyMap<string, VersionedState>> {
    const persisted = await this.load();
    return new Map(Object.entries(persisted?.services ?? {}).map(([name, state]) => [name, { state, version: 0 }]));
  }

  /** StateStore: writes every service's state, the change included. */
  async commit(change: StoreCommit): Promise<number> {
    await this.save(toPersisted(change.states));
    return 0;
  }

  /** StateStore: nobody else serves this file. */
  applied(): void {}

  /** StateStore: this instance is the whole fleet, and it has applied the change. */
  async waitForFleet(): Promise<void> {}

  /** StateStore: services the config leaves out are not kept (the file holds what this instance serves). */
  known(): VersionedState | undefined {
    return undefined;
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

function toPersisted(states: ReadonlyMap<string, ServiceState>): PersistedState {
  return { version: 1, services: Object.fromEntries(states) };
}
