import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { type ChildSwitchyard, freePort, startChild } from './child-switchyard.js';
import { metricsPage, seriesValue } from './metrics-page.js';

/** A keep-alive client for polling proxies and admin APIs (fresh connections per poll would measure connect time, not propagation). */
export const pollAgent = new Agent({ keepAliveTimeout: 10_000, connections: 16 });

/** An admin answer: status, parsed JSON body and headers. */
export interface AdminReply {
  status: number;
  body: Record<string, unknown> & { error?: { code: string; message: string; members?: string[] } };
  headers: Headers;
}

/** YAML lines under `services:` for a service `web` with a blue and a green stack (one target each), blue active. */
export function blueGreenServices(blue: string, green: string): string {
  return ['  - name: web', '    stacks:', `      blue: { targets: ["${blue}"] }`, `      green: { targets: ["${green}"] }`, '    active: blue'].join('\n');
}

/** What one fleet instance is made of. */
export interface FleetInstanceOptions {
  /** Instance id (state.instance_id) and the name of its temp subdir. */
  readonly id: string;
  readonly dir: string;
  readonly endpoints: readonly string[];
  readonly prefix: string;
  /** YAML lines under `services:`. */
  readonly services: string;
  /** Extra YAML lines inside `state:` (e.g. `wait_timeout: 1s`). */
  readonly state?: string;
  /** Also listen with TLS (SNI from the certificate store). */
  readonly tls?: boolean;
  /** Extra top-level YAML lines (e.g. `hooks: …`). */
  readonly extra?: string;
}

/** One switchyard process of a fleet, with fixed ports so it can be killed and started again. */
export class FleetInstance {
  readonly id: string;
  readonly configPath: string;
  readonly cachePath: string;
  readonly certsDir: string;
  child: ChildSwitchyard | undefined;

  private constructor(
    id: string,
    dir: string,
    readonly proxyPort: number,
    readonly adminPort: number,
    readonly tlsPort: number,
  ) {
    this.id = id;
    this.configPath = join(dir, `${id}.yaml`);
    this.cachePath = join(dir, `${id}-state.json`);
    this.certsDir = join(dir, `${id}-certs`);
  }

  /** Writes the config (ports picked now) without starting. */
  static async create(options: FleetInstanceOptions): Promise<FleetInstance> {
    const [proxyPort, adminPort, tlsPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const instance = new FleetInstance(options.id, options.dir, proxyPort, adminPort, tlsPort);
    const endpoints = options.endpoints.map((e) => JSON.stringify(e)).join(', ');
    const tls = options.tls ? `  - { name: https, port: ${tlsPort}, address: 127.0.0.1, tls: true }\n` : '';
    writeFileSync(
      instance.configPath,
      [
        'listeners:',
        `  - { name: http, port: ${proxyPort}, address: 127.0.0.1 }`,
        `${tls}admin: { listen: "127.0.0.1:${adminPort}" }`,
        'state:',
        '  store: etcd',
        `  endpoints: [${endpoints}]`,
        `  prefix: ${options.prefix}`,
        `  path: ${instance.cachePath}`,
        `  instance_id: ${options.id}`,
        ...(options.state ? [options.state.replace(/^/gm, '  ')] : []),
        `certs_dir: ${instance.certsDir}`,
        'logging: { level: warn }',
        ...(options.extra ? [options.extra] : []),
        'services:',
        options.services,
      ].join('\n'),
    );
    return instance;
  }

  get adminUrl(): string {
    return `http://127.0.0.1:${this.adminPort}`;
  }

  /** Starts the process and waits for /healthz. */
  async start(): Promise<this> {
    this.child = await startChild(this.configPath, this.proxyPort, this.adminPort);
    return this;
  }

  /** SIGKILL (a crash: the member lease stays until it expires) and wait for the exit. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child) return;
    child.child.kill('SIGCONT');
    child.child.kill('SIGKILL');
    await child.exited;
  }

  /** SIGTERM: a graceful stop (leaves the fleet at once). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child) return;
    child.child.kill('SIGTERM');
    await child.exited;
  }

  /** SIGSTOP: alive for etcd (its lease runs on) but applying nothing. */
  pause(): void {
    this.child?.child.kill('SIGSTOP');
  }

  /** SIGCONT after pause(). */
  resume(): void {
    this.child?.child.kill('SIGCONT');
  }

  /** The log so far (for failure messages). */
  output(): string {
    return this.child?.output() ?? '';
  }

  /** One admin call. */
  async admin(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<AdminReply> {
    const response = await fetch(`${this.adminUrl}${path}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as AdminReply['body']) : {}, headers: response.headers };
  }

  /** Switches `service` to `stack` (force: the test upstreams have no health check anyway). */
  switchTo(service: string, stack: string, headers: Record<string, string> = {}, query = ''): Promise<AdminReply> {
    return this.admin('POST', `/v1/services/${service}/switch${query}`, { to: stack, force: true }, headers);
  }

  /** The service as this instance serves it. */
  async service(name: string): Promise<{ generation: number; active: string; weights: Record<string, number> }> {
    const reply = await this.admin('GET', `/v1/services/${name}`);
    return reply.body as unknown as { generation: number; active: string; weights: Record<string, number> };
  }

  /** The body the proxy answers for GET / (the upstreams answer their stack's name). */
  async served(): Promise<string> {
    const response = await request(`http://127.0.0.1:${this.proxyPort}/`, { dispatcher: pollAgent, headersTimeout: 5000, bodyTimeout: 5000 });
    return response.body.text();
  }

  /** The value of one metric line (e.g. `switchyard_store_connected`). */
  async metric(name: string): Promise<number | undefined> {
    return seriesValue(await metricsPage(this.adminUrl), name);
  }
}

/** Polls until `instance` serves `body`; resolves with the ms it took. */
export async function untilServed(instance: FleetInstance, body: string, timeoutMs = 10_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    if ((await instance.served()) === body) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`${instance.id} did not serve "${body}" within ${timeoutMs} ms:\n${instance.output()}`);
  }
}

/** p-th percentile (0..100) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}
