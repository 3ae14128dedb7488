import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { trackInTest } from '../helpers/cleanup.js';
import { spawnSwitchyard, writeChildConfig } from '../helpers/child-switchyard.js';
import { tempDir } from '../helpers/switchyard.js';

/** What GET /v1/workers answers. */
export interface WorkersJson {
  mode: string;
  scheduling?: string;
  workers: { id: number; pid: number; state: string; generation: number; requests: number | null; uptime_seconds: number; restarts: number }[];
}

/** switchyard started by the CLI as a primary with worker processes. */
export interface Cluster {
  readonly child: ChildProcess;
  readonly dir: string;
  readonly configPath: string;
  readonly proxyPort: number;
  readonly adminUrl: string;
  readonly exited: Promise<number | string>;
  /** stdout and stderr so far. */
  output(): string;
  /** The JSON log lines so far. */
  logs(): Record<string, unknown>[];
  workers(): Promise<WorkersJson>;
  /** POSTs/PUTs JSON to the admin API; resolves with the status. */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }>;
}

/** A blue/green service `web` (YAML lines under `services:`). */
export function webService(blue: string, green: string, more = ''): string {
  return `  - name: web\n    stacks: { blue: { targets: ["${blue}"] }, green: { targets: ["${green}"] } }\n${more}`;
}

/**
 * Starts `switchyard start` with `workers: 2` (unless `extra` says otherwise) and the
 * worker id header on, and waits until /healthz answers. `listeners` (YAML lines) are
 * added to the `http` one, which listens on `port` when given. Stopped (SIGKILL) when the test ends.
 */
export async function startCluster(
  services: string,
  options: { extra?: string; env?: Record<string, string>; dir?: string; listeners?: string; port?: number } = {},
): Promise<Cluster> {
  const dir = options.dir ?? tempDir();
  const extra = `${/^workers:/m.test(options.extra ?? '') ? '' : 'workers: 2\n'}debug: { worker_header: true }\n${options.extra ?? ''}`;
  const written = await writeChildConfig(dir, services, extra);
  const { configPath, adminPort } = written;
  const proxyPort = options.port ?? written.proxyPort;
  if (options.port !== undefined) writeFileSync(configPath, readFileSync(configPath, 'utf8').replace(`port: ${written.proxyPort},`, `port: ${proxyPort},`));
  if (options.listeners) writeFileSync(configPath, readFileSync(configPath, 'utf8').replace('listeners:\n', `listeners:\n${options.listeners}`));
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const { child, output, exited } = await spawnSwitchyard(configPath, adminUrl, { ...process.env, SWITCHYARD_ADMIN_TOKEN: '', ...options.env });
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${adminUrl}${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: text ? (JSON.parse(text) as unknown) : undefined };
  };
  const cluster: Cluster = {
    child,
    dir,
    configPath,
    proxyPort,
    adminUrl,
    exited,
    output,
    logs: () =>
      output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    workers: async () => (await call('GET', '/v1/workers')).json as WorkersJson,
    call,
  };
  return cluster;
}

/** One answer through the proxy: status, body, the worker that served it, and when it started and ended. */
export interface Answer {
  status: number;
  body: string;
  worker: string;
  startedAt: number;
  endedAt: number;
  /** Local port of the client socket (which connection it went on). */
  socket: number;
}

/** GET `path` on 127.0.0.1:`port` through `agent` (a keep-alive agent reuses its sockets; false opens a fresh one). */
export function fetchAnswer(port: number, agent: Agent | false, path = '/', headers: Record<string, string> = {}): Promise<Answer> {
  const startedAt = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body,
          worker: String(res.headers['x-switchyard-worker'] ?? ''),
          startedAt,
          endedAt: performance.now(),
          socket: req.socket?.localPort ?? 0,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens fresh connections until one is served by worker `id`; returns an agent holding that one keep-alive connection. */
export async function agentOnWorker(port: number, id: string): Promise<Agent> {
  for (let i = 0; i < 100; i++) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    trackInTest({ close: () => agent.destroy() });
    const answer = await fetchAnswer(port, agent);
    if (answer.worker === id) return agent;
    agent.destroy();
  }
  throw new Error(`no connection landed on worker ${id} in 100 tries`);
}

/** A flip of the service, with when it was sent and acknowledged (performance.now()). */
export interface Flip {
  to: string;
  sent: number;
  acked: number;
  status: number;
}

/**
 * Answers from a stack other than the one the last acknowledged flip named before the
 * request started, counting only requests no flip was in flight for (sent before the
 * answer ended, acknowledged after it started): those could go either way.
 */
export function staleAnswers(answers: readonly Answer[], flips: readonly Flip[], initial: string): Answer[] {
  const acked = flips.filter((f) => f.status === 200);
  const stale: Answer[] = [];
  for (const a of answers) {
    if (a.status !== 200) continue;
    const inFlight = acked.some((f) => f.sent < a.endedAt && f.acked > a.startedAt);
    if (inFlight) continue;
    const last = acked.filter((f) => f.acked < a.startedAt).at(-1);
    if (a.body !== (last?.to ?? initial)) stale.push(a);
  }
  return stale;
}

/**
 * Calls `ask` one at a time until both workers answered (and at least `min` times): with
 * the kernel handing out connections (SCHED_NONE), which worker accepts a new connection
 * is not fixed, so a test that needs both asks until it saw both (at most 100 times).
 */
export async function untilBothWorkers<T extends { worker: string }>(ask: () => Promise<T>, min = 1): Promise<T[]> {
  const answers: T[] = [];
  while (answers.length < min || new Set(answers.map((a) => a.worker)).size < 2) {
    if (answers.length >= 100) throw new Error(`100 answers, all from worker ${answers[0]?.worker}`);
    answers.push(await ask());
  }
  return answers;
}
