import { Agent } from 'node:http';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Switchyard } from '../../src/app.js';
import type { SwitchyardEvent } from '../../src/events/bus.js';
import { defer } from './cleanup.js';
import { get } from './http.js';

/** Steady client traffic against a proxy port, counted by `status body`. */
export interface Traffic {
  /** `200 blue` → count, and `error` for failed requests. */
  readonly seen: Map<string, number>;
  /** Requests answered so far. */
  total(): number;
  /** Stops sending; resolves once every client's last request ended. */
  stop(): Promise<void>;
}

/** Starts `concurrency` keep-alive clients sending GET `path` in a loop until stopped (at the latest when the test ends). */
export function startTraffic(port: number, options: { concurrency?: number; path?: string; headers?: OutgoingHttpHeaders } = {}): Traffic {
  const { concurrency = 4, path = '/', headers = {} } = options;
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const seen = new Map<string, number>();
  let running = true;
  let total = 0;
  const count = (key: string) => seen.set(key, (seen.get(key) ?? 0) + 1);
  const client = async () => {
    while (running) {
      try {
        const reply = await get(port, { path, headers, agent });
        count(`${reply.status} ${reply.body}`);
      } catch {
        count('error');
      }
      total++;
    }
  };
  const clients = Array.from({ length: concurrency }, client);
  const stop = async () => {
    running = false;
    await Promise.all(clients);
    agent.destroy();
  };
  defer(stop);
  return { seen, total: () => total, stop };
}

/** Resolves with the first rollout event of `service` that `match` accepts (rejects after `ms`). */
export function rolloutEvent(
  app: Switchyard,
  match: (event: Extract<SwitchyardEvent, { type: 'rollout' }>) => boolean,
  ms = 15_000,
): Promise<Extract<SwitchyardEvent, { type: 'rollout' }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching rollout event in ${ms} ms`));
    }, ms);
    const off = app.controller.events.subscribe((event) => {
      if (event.type !== 'rollout' || !match(event)) return;
      clearTimeout(timer);
      off();
      resolve(event);
    });
  });
}

/** Every rollout event from now on, in order (for counting measurements). */
export function recordRolloutEvents(app: Switchyard): Extract<SwitchyardEvent, { type: 'rollout' }>[] {
  const events: Extract<SwitchyardEvent, { type: 'rollout' }>[] = [];
  defer(
    app.controller.events.subscribe((event) => {
      if (event.type === 'rollout') events.push(event);
    }),
  );
  return events;
}
