import type { WorkerHandle } from './worker-handle.js';

/** A worker number that died CRASH_LIMIT times within CRASH_WINDOW ms is respawned after CRASH_DELAY ms, not at once. */
const CRASH_LIMIT = 3;
const CRASH_WINDOW = 5000;
const CRASH_DELAY = 1000;

/** One worker number (1…N) and the process currently holding it. */
export interface Slot {
  readonly id: number;
  current: WorkerHandle | undefined;
  /** Processes forked for it so far. */
  processes: number;
  /** Times it was respawned. */
  restarts: number;
  /** Epoch ms of its recent deaths. */
  deaths: number[];
}

/** A fresh worker number. */
export function newSlot(id: number): Slot {
  return { id, current: undefined, processes: 0, restarts: 0, deaths: [] };
}

/** Records a death at `now`; returns how long to wait before the respawn (0, unless it is crash-looping). */
export function respawnDelay(slot: Slot, now: number): number {
  slot.restarts++;
  slot.deaths = [...slot.deaths.filter((t) => t > now - CRASH_WINDOW), now];
  return slot.deaths.length >= CRASH_LIMIT ? CRASH_DELAY : 0;
}
