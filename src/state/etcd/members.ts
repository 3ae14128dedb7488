import { type EtcdClient, EtcdError } from './client.js';
import { grantLease, renewLease } from './lease.js';
import { decode, encode, type FleetMember, type KeyLayout, parseMember, type RangeAnswer, rangeEnd } from './records.js';

/** Default member lease TTL (SPEC §9): a crashed instance leaves the fleet after this. */
export const MEMBER_TTL_SECONDS = 10;

/**
 * This instance's registration under `<prefix>members/<id>`: a key attached to a lease
 * that a heartbeat keeps alive (every TTL/3) and rewrites with the applied generation and
 * last-seen time. When the lease is lost (etcd outage longer than the TTL, or revoked),
 * the next heartbeat registers again with a new lease.
 */
export class MemberLease {
  readonly id: string;
  private readonly client: EtcdClient;
  private readonly layout: KeyLayout;
  private readonly address: string;
  private readonly ttl: number;
  private readonly onError: (err: unknown) => void;
  private lease: string | undefined;
  private generation = 0;
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(client: EtcdClient, layout: KeyLayout, id: string, address: string, ttlSeconds: number, onError: (err: unknown) => void) {
    this.client = client;
    this.layout = layout;
    this.id = id;
    this.address = address;
    this.ttl = ttlSeconds;
    this.onError = onError;
  }

  /** Grants a lease, writes the member key and starts the heartbeat. Throws STORE_UNAVAILABLE when etcd is down (the heartbeat keeps trying). */
  async start(generation = 0): Promise<void> {
    this.generation = generation;
    this.timer = setInterval(() => void this.serialized(() => this.heartbeat()).catch(this.onError), (this.ttl * 1000) / 3);
    this.timer.unref();
    await this.serialized(() => this.register());
  }

  /** Publishes the generation this instance has applied; resolves once etcd stored it. */
  publish(generation: number): Promise<void> {
    this.generation = Math.max(this.generation, generation);
    return this.serialized(async () => {
      if (!this.lease) await this.register();
      else await this.write();
    });
  }

  /** Stops the heartbeat; with `revoke` the member leaves the fleet at once, without it only when the lease expires (a crash, as etcd sees it). */
  async stop(revoke = true): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.queue.catch(() => undefined);
    const lease = this.lease;
    this.lease = undefined;
    if (revoke && lease) await this.client.call('/v3/lease/revoke', { ID: lease }).catch(() => undefined);
  }

  /** The lease id (a decimal string: etcd lease ids exceed 2^53). */
  get leaseId(): string | undefined {
    return this.lease;
  }

  private async register(): Promise<void> {
    if (this.stopped) return;
    this.lease = await grantLease(this.client, this.ttl);
    await this.write();
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped) return;
    if (!this.lease) return this.register();
    // An expired or revoked lease answers without a TTL: register again.
    if ((await renewLease(this.client, this.lease)) <= 0) return this.register();
    await this.write();
  }

  private async write(): Promise<void> {
    const lease = this.lease;
    if (!lease || this.stopped) return;
    const record: FleetMember = { id: this.id, address: this.address, generation: this.generation, last_seen: new Date().toISOString() };
    try {
      await this.client.call('/v3/kv/put', { key: encode(this.layout.key('members', this.id)), value: encode(JSON.stringify(record)), lease }, 'once');
    } catch (err) {
      // gRPC 5 NOT_FOUND: "requested lease not found" (it expired meanwhile).
      if (err instanceof EtcdError && err.grpcCode === 5) return this.register();
      throw err;
    }
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** Every registered (live) member, read from `<prefix>members/`. */
export async function listMembers(client: EtcdClient, layout: KeyLayout): Promise<FleetMember[]> {
  const dir = layout.dir('members');
  const answer = await client.call<RangeAnswer>('/v3/kv/range', { key: encode(dir), range_end: rangeEnd(dir) });
  const members: FleetMember[] = [];
  for (const kv of answer.kvs ?? []) {
    const parsed = parseMember(decode(kv.value));
    if (parsed) members.push(parsed);
  }
  return members;
}
