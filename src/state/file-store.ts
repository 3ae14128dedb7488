import { open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { mkdir } from 'node:fs/promises';
import writeFileAtomic from 'write-file-atomic';
import { z } from 'zod';
import type { ServiceState } from '../routing/service-state.js';

/** The durable document: each service's runtime state by name. */
export interface PersistedState {
  readonly version: 1;
  readonly services: Readonly<Record<string, ServiceState>>;
}

/** The state file exists but cannot be used; switchyard refuses to start rather than replace it. */
export class StateFileError extends Error {
  constructor(file: string, reason: string) {
    super(`state file ${file} is unusable: ${reason} (fix or move it away; it is never replaced silently)`);
    this.name = 'StateFileError';
  }
}

const weights = z.record(z.string(), z.number().int().min(0));
const persistedSchema = z.object({
  version: z.literal(1),
  services: z.record(
    z.string(),
    z.object({
      generation: z.number().int().min(1),
      weights,
      targets: z.record(z.string(), z.array(z.string())),
      history: z.array(
        z.object({
          time: z.string(),
          from: weights,
          to: weights,
          reason: z.string(),
          actor: z.string(),
          generation: z.number().int(),
        }),
      ),
    }),
  ),
});

/**
 * The embedded durable store: one JSON file, replaced atomically (temp file, fsync,
 * rename, fsync of the directory) so a crash leaves either the old or the new state.
 */
export class FileStateStore {
  readonly file: string;

  constructor(file: string) {
    this.file = file;
  }

  /** The stored state, or undefined when there is no file yet. */
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
    const parsed = persistedSchema.safeParse(document);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new StateFileError(this.file, `${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
    }
    return parsed.data;
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
