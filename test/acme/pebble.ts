import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSelfSigned } from '../../src/tls/self-signed.js';

/** True when Debian's `pebble` and `pebble-challtestsrv` are on PATH. */
export function pebbleInstalled(): boolean {
  return spawnSync('sh', ['-c', 'command -v pebble && command -v pebble-challtestsrv'], { stdio: 'ignore' }).status === 0;
}

/** A free TCP port on 127.0.0.1 (bound, then released for the caller to use). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A running Pebble ACME CA with pebble-challtestsrv as its DNS (every name → 127.0.0.1). */
export interface Pebble {
  /** The ACME directory URL. */
  readonly directory: string;
  /** PEM file of the certificate Pebble's own HTTPS uses (`acme.ca_file`). */
  readonly caFile: string;
  /** Pebble's output so far (its log of orders and validations). */
  readonly output: () => string;
  /** Pebble's issuing root, from its management interface (regenerated at every launch). */
  root(): Promise<string>;
  /** Kills Pebble and its DNS server (their files stay); resolves when both have exited. */
  kill(): Promise<void>;
  /** Kills both and removes their files. */
  stop(): Promise<void>;
}

function waitForLine(child: ChildProcess, pattern: RegExp, what: string, ms = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start in ${ms} ms:\n${seen}`)), ms);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}:\n${seen}`));
    });
  });
}

/** GETs `url` trusting `ca`; resolves with the body of a 200. */
function fetchText(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url} answered ${res.statusCode}`))));
    }).on('error', reject);
  });
}

/** Pebble logs "Listening on" before its servers accept: poll until `url` answers. */
async function answering(url: string, ca: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await fetchText(url, ca);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/**
 * Starts pebble-challtestsrv (DNS only) and Pebble on free ports, with PEBBLE_VA_NOSLEEP=1
 * so validations run at once. Pebble validates http-01 on `httpPort` of the name's address,
 * which challtestsrv answers with 127.0.0.1 (A) and nothing (AAAA): point it at
 * switchyard's plain listener.
 */
export async function startPebble(httpPort: number): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-pebble-'));
  const tls = await generateSelfSigned(['localhost', '127.0.0.1'], { days: 2 });
  const caFile = join(dir, 'pebble-tls.pem');
  writeFileSync(caFile, tls.certPem);
  writeFileSync(join(dir, 'pebble-tls.key'), tls.keyPem, { mode: 0o600 });
  const [acmePort, managementPort, dnsPort] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: caFile,
        privateKey: join(dir, 'pebble-tls.key'),
        httpPort,
        tlsPort: await freePort(),
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  const dns = spawn(
    'pebble-challtestsrv',
    ['-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${await freePort()}`, '-defaultIPv6', ''],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const pebble = spawn('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`, '-strict', 'false'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1' },
  });
  let output = '';
  pebble.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const kill = async () => {
    await Promise.all([exited(pebble), exited(dns)]);
  };
  const stop = async () => {
    await kill();
    rmSync(dir, { recursive: true, force: true });
  };
  // A failed start must not leave Pebble running; neither may a test that never calls stop.
  process.once('exit', () => {
    pebble.kill('SIGKILL');
    dns.kill('SIGKILL');
  });
  try {
    await Promise.all([waitForLine(dns, /Starting challenge servers/, 'pebble-challtestsrv'), waitForLine(pebble, /Listening on/, 'pebble')]);
    await answering(`https://127.0.0.1:${acmePort}/dir`, tls.certPem);
    await answering(`https://127.0.0.1:${managementPort}/roots/0`, tls.certPem);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    directory: `https://127.0.0.1:${acmePort}/dir`,
    caFile,
    output: () => output,
    root: () => fetchText(`https://127.0.0.1:${managementPort}/roots/0`, tls.certPem),
    kill,
    stop,
  };
}
