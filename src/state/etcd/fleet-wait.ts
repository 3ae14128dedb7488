import { SwitchyardError } from '../../errors.js';
import type { EtcdClient } from './client.js';
import { decode, encode, type FleetMember, type KeyLayout, parseMember, type RangeAnswer, rangeEnd } from './records.js';
import { PrefixWatch } from './watch.js';

/** `?wait=all` timed out: the change stays committed, these members had not applied it. */
export class FleetLaggingError extends SwitchyardError {
  /** Ids of the live members still below the generation. */
  readonly members: readonly string[];

  constructor(generation: number, timeoutMs: number, members: readonly string[]) {
    super('FLEET_LAGGING', `not applied by ${members.join(', ')} within ${timeoutMs} ms (generation ${generation}); the change stays committed`);
    this.members = members;
  }

  /** The error body, with the laggards (SPEC §9). */
  override toJSON(): { error: { code: 'FLEET_LAGGING'; message: string; members: string[] } } {
    return { error: { code: 'FLEET_LAGGING', message: this.message, members: [...this.members] } };
  }
}

/**
 * Resolves with the members once every live member has published `generation` or more;
 * a member whose lease ends meanwhile is no longer waited for. Reads the members once and
 * then follows their keys with a watch, so it reacts to the publication itself, not a poll.
 */
export async function waitForFleet(client: EtcdClient, layout: KeyLayout, generation: number, timeoutMs: number): Promise<FleetMember[]> {
  const dir = layout.dir('members');
  const answer = await client.call<RangeAnswer>('/v3/kv/range', { key: encode(dir), range_end: rangeEnd(dir) });
  const members = new Map<string, FleetMember>();
  for (const kv of answer.kvs ?? []) {
    const member = parseMember(decode(kv.value));
    if (member) members.set(decode(kv.key), member);
  }
  const laggards = () => [...members.values()].filter((m) => m.generation < generation).map((m) => m.id);
  if (laggards().length === 0) return [...members.values()];
  let watch: PrefixWatch | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<FleetMember[]>((resolve, reject) => {
      timer = setTimeout(() => reject(new FleetLaggingError(generation, timeoutMs, laggards().sort())), timeoutMs);
      watch = new PrefixWatch(client, dir, Number(answer.header?.revision ?? 0) + 1, {
        onEvents: (events) => {
          for (const event of events) {
            const member = event.type === 'put' ? parseMember(event.value) : undefined;
            if (member) members.set(event.key, member);
            else members.delete(event.key);
          }
          if (laggards().length === 0) resolve([...members.values()]);
        },
        // Only member keys are watched and the wait is short; should it happen, the
        // timeout answers with what is known.
        onCompacted: () => undefined,
      });
    });
  } finally {
    clearTimeout(timer);
    await watch?.close();
  }
}
