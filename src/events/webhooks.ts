import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { SwitchyardEvent } from './bus.js';

/** Each delivery: this many tries, each bounded by TIMEOUT_MS, with doubling backoff. */
const ATTEMPTS = 3;
const TIMEOUT_MS = 2000;
const BACKOFF_MS = 250;

function urlsFor(hooks: Config['hooks'], event: SwitchyardEvent): readonly string[] {
  switch (event.type) {
    case 'health':
      return hooks.on_health_change ?? [];
    case 'switch':
    case 'weights':
    case 'rollback':
      return hooks.on_switch ?? [];
    default:
      return [];
  }
}

function ignore(): void {}

async function deliver(url: string, body: string, log: Logger): Promise<void> {
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(TIMEOUT_MS) });
      // The answer's body is never read: release its connection now rather than at garbage
      // collection (a body that already failed only rejects the cancel, which says nothing).
      response.body?.cancel().catch(ignore);
      if (response.ok) return;
      log.warn({ url, status: response.status, attempt }, 'webhook refused');
    } catch (err) {
      log.warn({ url, attempt, err: (err as Error).message }, 'webhook failed');
    }
    if (attempt < ATTEMPTS) await new Promise((r) => setTimeout(r, BACKOFF_MS * 2 ** (attempt - 1)));
  }
}

/**
 * POSTs events to the configured hooks (`on_health_change`, `on_switch`), the JSON of
 * the event stream. Fire-and-forget: never awaited by a switch or the data path, and a
 * receiver that refuses, resets or hangs only costs a logged warning per attempt.
 * In a fleet (`self` is this instance's id) every instance publishes every shared change,
 * and only the instance it was made through (its `origin`) posts it: one delivery per
 * change. Health events are each instance's own view and are posted by each.
 */
export function webhookListener(hooks: () => Config['hooks'], log: Logger, self?: string): (event: SwitchyardEvent) => void {
  return (event) => {
    if (self !== undefined && 'origin' in event && event.origin !== undefined && event.origin !== self) return;
    const urls = urlsFor(hooks(), event);
    if (urls.length === 0) return;
    const body = JSON.stringify(event);
    for (const url of urls) void deliver(url, body, log);
  };
}
