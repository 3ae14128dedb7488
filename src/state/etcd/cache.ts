import { FileStateStore } from '../file-store.js';
import type { ServiceState } from '../../routing/service-state.js';
import type { PersistedState } from '../stored-state.js';

/**
 * The local copy of the services' state in etcd (`state.path`), rewritten after every
 * change this instance learns of, so a restart while etcd is unreachable serves the
 * last known state. Writes are coalesced: at most one in flight and one pending.
 */
export class StateCache {
  private readonly file: FileStateStore;
  private services = new Map<string, ServiceState>();
  private writing: Promise<void> | undefined;
  private dirty = false;
  private readonly onError: (err: unknown) => void;

  constructor(path: string, onError: (err: unknown) => void) {
    this.file = new FileStateStore(path);
    this.onError = onError;
  }

  /** The cache file path. */
  get path(): string {
    return this.file.file;
  }

  /** The cached state, or undefined when there is none (StateFileError when it is corrupt). */
  load(): Promise<PersistedState | undefined> {
    return this.file.load();
  }

  /** Replaces every service (after a full read of etcd). */
  replace(services: ReadonlyMap<string, ServiceState>): void {
    this.services = new Map(services);
    this.schedule();
  }

  /** Sets or (with undefined) removes one service. */
  set(name: string, state: ServiceState | undefined): void {
    if (state) this.services.set(name, state);
    else this.services.delete(name);
    this.schedule();
  }

  /** Resolves once everything set so far is on disk. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private schedule(): void {
    this.dirty = true;
    if (!this.writing) this.writing = this.drain();
  }

  private async drain(): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      const document: PersistedState = { version: 1, services: Object.fromEntries(this.services) };
      try {
        await this.file.save(document);
      } catch (err) {
        this.onError(err);
      }
    }
    this.writing = undefined;
  }
}
