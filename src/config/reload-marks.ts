/**
 * When a key takes effect. Every key is marked, on itself or on the object that holds it
 * (src/config/reload-modes.ts reads the marks; the README's reference lists them):
 * - `reload`: a SIGHUP reload applies it to the running process;
 * - `restart`: read once at start; a reload that changes it logs the key with the running
 *   and the new value, and keeps the running value.
 */
export type ReloadMode = 'reload' | 'restart';
/** Metadata marking a key (or a whole object) as applied by a reload. */
export const RELOADS = { reload: 'reload' } as const satisfies { reload: ReloadMode };
/** Metadata marking a key (or a whole object) as read only at start. */
export const RESTART_ONLY = { reload: 'restart' } as const satisfies { reload: ReloadMode };
