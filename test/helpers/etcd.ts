import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import { freePort } from './child-switchyard.js';

/** How a newcomer gets etcd; printed when an etcd test file skips. */
export const ETCD_INSTALL = 'apt-get install -y etcd-server';

/** Path of the etcd binary: $ETCD_BIN, else `etcd` on PATH, else undefined. */
export function findEtcd(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = [env.ETCD_BIN, ...(env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'etcd'))];
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not there; try the next one
    }
  }
  return undefined;
}

/**
 * Whether the etcd tests of `file` (pass `import.meta.filename`) can run. Without etcd a
 * newcomer's run skips them with one line naming the package; with CI=true a missing etcd
 * throws, so CI fails loudly instead of passing without the fleet tests.
 */
export function etcdAvailable(file: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (findEtcd(env)) return true;
  const name = relative(process.cwd(), file);
  const line = `etcd not found: ${name} skipped (Debian package etcd-server: ${ETCD_INSTALL})`;
  if (env.CI === 'true') throw new Error(`CI=true and ${line}; .ci/run must install it`);
  process.stderr.write(`${line}\n`);
  return false;
}

const running = new Set<ChildProcess>();
// A test that throws before its cleanup must not leave etcd processes behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** TLS files for an etcd started with `tls: true` (PEM paths). */
export interface EtcdTlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  /** A client certificate and key signed by the same CA. */
  readonly clientCert: string;
  readonly clientKey: string;
}

/** One etcd process: fixed ports and data dir, so it can be stopped and started again. */
export class EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private log = '';
  private readonly initialCluster: string;
  private readonly tls: EtcdTlsFiles | undefined;

  private readonly token: string;

  constructor(name: string, clientPort: number, peerPort: number, dataDir: string, initialCluster: string, token: string, tls?: EtcdTlsFiles) {
    this.token = token;
    this.name = name;
    this.clientUrl = `${tls ? 'https' : 'http'}://127.0.0.1:${clientPort}`;
    this.peerUrl = `http://127.0.0.1:${peerPort}`;
    this.dataDir = dataDir;
    this.initialCluster = initialCluster;
    this.tls = tls;
  }

  /** Spawns the process (it keeps its data dir across restarts). */
  spawn(): void {
    if (this.child) throw new Error(`etcd ${this.name} is already running`);
    const bin = findEtcd();
    if (!bin) throw new Error(`etcd not found (${ETCD_INSTALL})`);
    const args = [
      `--name=${this.name}`,
      `--data-dir=${join(this.dataDir, 'data')}`,
      `--listen-client-urls=${this.clientUrl}`,
      `--advertise-client-urls=${this.clientUrl}`,
      `--listen-peer-urls=${this.peerUrl}`,
      `--initial-advertise-peer-urls=${this.peerUrl}`,
      `--initial-cluster=${this.initialCluster}`,
      '--initial-cluster-state=new',
      `--initial-cluster-token=${this.token}`,
      '--logger=zap',
      '--log-outputs=stderr',
      '--log-level=warn',
    ];
    if (this.tls) args.push(`--trusted-ca-file=${this.tls.ca}`, `--cert-file=${this.tls.cert}`, `--key-file=${this.tls.key}`, '--client-cert-auth');
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.log = (this.log + chunk.toString()).slice(-20_000);
    });
    running.add(child);
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        running.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      }),
    );
  }

  /** Whether the process is running (a SIGSTOPped one counts). */
  get running(): boolean {
    return this.child !== undefined;
  }

  /** The last lines etcd logged, for failure messages. */
  output(): string {
    return this.log;
  }

  /** Polls GET /health until etcd answers {"health":"true"} (it has a leader and serves). */
  async waitHealthy(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.child) throw new Error(`etcd ${this.name} exited:\n${this.log}`);
      if (await this.healthy()) return;
      if (Date.now() > deadline) throw new Error(`etcd ${this.name} not healthy after ${timeoutMs} ms:\n${this.log}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** One health probe: true when this member answers that it is healthy. */
  async healthy(): Promise<boolean> {
    try {
      const response = await this.get('/health');
      return (JSON.parse(response) as { health?: string }).health === 'true';
    } catch {
      return false;
    }
  }

  /** SIGTERM and wait for the exit. */
  stop(): Promise<void> {
    return this.signal('SIGTERM');
  }

  /** SIGKILL and wait for the exit (a crash). */
  kill(): Promise<void> {
    return this.signal('SIGKILL');
  }

  /** SIGSTOP: the sockets stay open but nothing answers (a hung or partitioned member). */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  /** SIGCONT after pause(). */
  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** Starts the stopped process again on the same ports and data (then waitHealthy when it should be). */
  restart(): void {
    this.spawn();
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGCONT');
    child.kill(signal);
    await this.exited;
  }

  private async get(path: string): Promise<string> {
    if (!this.tls) {
      const response = await fetch(`${this.clientUrl}${path}`, { signal: AbortSignal.timeout(1000) });
      return response.text();
    }
    // fetch cannot present a client certificate; curl-free path via node:https.
    const { get } = await import('node:https');
    const { readFileSync } = await import('node:fs');
    const tls = this.tls;
    return new Promise((resolve, reject) => {
      const request = get(
        `${this.clientUrl}${path}`,
        { ca: readFileSync(tls.ca), cert: readFileSync(tls.clientCert), key: readFileSync(tls.clientKey), timeout: 1000 },
        (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk.toString()));
          response.on('end', () => resolve(body));
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error('timeout')));
      request.on('error', reject);
    });
  }
}

/** A running etcd of one or more members on free loopback ports with temporary data dirs. */
export class EtcdCluster {
  readonly members: readonly EtcdMember[];
  readonly root: string;
  readonly tls: EtcdTlsFiles | undefined;

  constructor(members: readonly EtcdMember[], root: string, tls?: EtcdTlsFiles) {
    this.members = members;
    this.root = root;
    this.tls = tls;
  }

  /** Client URLs of every member. */
  get endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  /** The first member (the only one of a single-member etcd). */
  get first(): EtcdMember {
    const member = this.members[0];
    if (!member) throw new Error('no members');
    return member;
  }

  /** Waits until every running member is healthy. */
  async waitHealthy(): Promise<void> {
    await Promise.all(this.members.filter((m) => m.running).map((m) => m.waitHealthy()));
  }

  /** Kills every member and removes the data dirs. */
  async destroy(): Promise<void> {
    await Promise.all(this.members.map((m) => m.kill()));
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Options of startEtcd. */
export interface StartEtcdOptions {
  /** Members (3 for quorum tests). Default 1. */
  readonly size?: number;
  /** Serve clients over TLS with client-certificate auth (certificates made with openssl). */
  readonly tls?: boolean;
}

/** Starts an etcd of `size` members and waits until it is healthy. */
export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdCluster> {
  const size = options.size ?? 1;
  const root = mkdtempSync(join(tmpdir(), 'switchyard-etcd-'));
  const tls = options.tls ? makeTlsFiles(root) : undefined;
  // Ports are picked free and then bound by etcd: another process can take one in
  // between, so a start that fails to bind is tried again on new ports.
  for (let attempt = 1; ; attempt++) {
    const ports = await Promise.all(Array.from({ length: size * 2 }, () => freePort()));
    const names = Array.from({ length: size }, (_, i) => `m${i}`);
    const initialCluster = names.map((name, i) => `${name}=http://127.0.0.1:${ports[size + i]}`).join(',');
    const members = names.map(
      (name, i) => new EtcdMember(name, ports[i] ?? 0, ports[size + i] ?? 0, join(root, `${name}-${attempt}`), initialCluster, `${root}-${attempt}`, tls),
    );
    for (const member of members) member.spawn();
    const cluster = new EtcdCluster(members, root, tls);
    try {
      await cluster.waitHealthy();
      return cluster;
    } catch (err) {
      await Promise.all(members.map((m) => m.kill()));
      const bindFailed = members.some((m) => m.output().includes('address already in use'));
      if (!bindFailed || attempt >= 3) {
        rmSync(root, { recursive: true, force: true });
        throw err;
      }
    }
  }
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
function makeTlsFiles(root: string): EtcdTlsFiles {
  const file = (name: string) => join(root, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=switchyard test CA', '-keyout', file('ca.key'), '-out', file('ca.pem'));
  for (const [name, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth'],
    ['client', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`));
    const extFile = file(`${name}.ext`);
    execFileSync('sh', ['-c', `printf '%s\\n' "$1" > "$2"`, 'sh', ext, extFile]);
    openssl(
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      extFile,
      '-out',
      file(`${name}.pem`),
    );
  }
  return { ca: file('ca.pem'), cert: file('server.pem'), key: file('server.key'), clientCert: file('client.pem'), clientKey: file('client.key') };
}

/** Calls etcd's JSON gateway directly (test set-up: auth, compaction, lease revoke). */
export async function gateway(endpoint: string, path: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = token;
  const response = await fetch(`${endpoint}/v3${path}`, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(5000) });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`etcd ${path}: ${JSON.stringify(json)}`);
  return json;
}

/** Creates root (password `password`) and turns authentication on. */
export async function enableAuth(endpoint: string, password: string): Promise<void> {
  await gateway(endpoint, '/auth/role/add', { name: 'root' });
  await gateway(endpoint, '/auth/user/add', { name: 'root', password });
  await gateway(endpoint, '/auth/user/grant', { user: 'root', role: 'root' });
  await gateway(endpoint, '/auth/enable', {});
}

/** base64 of a UTF-8 string (the gateway's bytes encoding). */
export function b64(text: string): string {
  return Buffer.from(text).toString('base64');
}
