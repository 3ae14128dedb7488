import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { pino } from 'pino';
import { Switchyard } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import type { AcmeEvent, SwitchyardEvent } from '../../src/events/bus.js';
import { trackInTest } from '../helpers/cleanup.js';

/** One parsed log line. */
export type LogLine = { level: number; msg: string; time: number; [key: string]: unknown };

/** A switchyard started with ACME settings, its events and log lines as they come. */
export interface AcmeSwitchyard {
  readonly app: Switchyard;
  readonly events: SwitchyardEvent[];
  readonly logs: LogLine[];
}

/** Starts switchyard with a plain listener on `httpPort` (the http-01 port), a TLS one on a free port, and `extra` merged over the config. Stopped when the test ends. */
export async function startAcmeSwitchyard(dir: string, httpPort: number, upstream: string, extra: Record<string, unknown>): Promise<AcmeSwitchyard> {
  const config = validateConfig({
    listeners: [
      { name: 'http', port: httpPort, address: '127.0.0.1' },
      { name: 'https', port: 0, address: '127.0.0.1', tls: true },
    ],
    admin: { listen: '127.0.0.1:0' },
    state: { path: join(dir, 'state.json') },
    certs_dir: join(dir, 'certs'),
    services: [{ name: 'app', stacks: { blue: { targets: [upstream] } } }],
    ...extra,
  });
  const logs: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const events: SwitchyardEvent[] = [];
  const app = trackInTest(await Switchyard.start(config, log));
  app.controller.events.subscribe((event) => events.push(event));
  return { app, events, logs };
}

/** Resolves with the first `acme` event matching `action` (and `name`) after `from` events, or rejects after `ms`. */
export async function acmeEvent(sy: AcmeSwitchyard, action: AcmeEvent['action'], name: string, from = 0, ms = 20_000): Promise<AcmeEvent> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = sy.events.slice(from).find((e): e is AcmeEvent => e.type === 'acme' && e.action === action && e.name === name);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no acme ${action} event for ${name} in ${ms} ms; events: ${JSON.stringify(sy.events)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What a TLS client sees of the certificate served for `servername`, verified against `ca`. */
export interface Served {
  readonly authorized: boolean;
  readonly error: string | undefined;
  readonly serial: string;
  readonly subjectaltname: string | undefined;
  /** Subject CNs along the presented chain, leaf first. */
  readonly chain: string[];
}

/** Handshakes with `port` for `servername`, trusting only `ca`. */
export function handshake(port: number, servername: string, ca: string): Promise<Served> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, ca, rejectUnauthorized: false }, () => {
      const leaf = socket.getPeerCertificate(true);
      const chain: string[] = [];
      let cert: PeerCertificate | undefined = leaf;
      const seen = new Set<string>();
      while (cert?.fingerprint256 && !seen.has(cert.fingerprint256)) {
        seen.add(cert.fingerprint256);
        chain.push(String(cert.subject?.CN ?? ''));
        cert = (cert as PeerCertificate & { issuerCertificate?: PeerCertificate }).issuerCertificate;
      }
      resolve({
        authorized: socket.authorized,
        error: socket.authorizationError === null ? undefined : String(socket.authorizationError),
        serial: leaf.serialNumber,
        subjectaltname: leaf.subjectaltname,
        chain,
      });
      socket.end();
    });
    socket.on('error', reject);
  });
}

/** The API-requested ACME certificates recorded on disk. */
export function requestsOnDisk(dir: string): unknown {
  const path = join(dir, 'certs', 'acme', 'requests.json');
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
}
