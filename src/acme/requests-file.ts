import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import writeFileAtomic from 'write-file-atomic';
import { messageOf, SwitchyardError } from '../errors.js';
import { isCertificateName } from '../config/certificate-names.js';
import { acmeHostProblem } from '../config/acme-hosts.js';
import { SerialQueue } from '../serial-queue.js';

/** An ACME certificate asked for through the API: kept on disk so a restart goes on ordering and renewing it. */
export interface AcmeRequest {
  readonly name: string;
  readonly hosts: readonly string[];
}

/**
 * Reads the requests file; a missing file is no requests. Entries that are not valid
 * (hand-edited) are skipped and named in `skipped`; an unreadable file throws.
 */
export async function readAcmeRequests(path: string): Promise<{ requests: AcmeRequest[]; skipped: string[] }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { requests: [], skipped: [] };
    throw err;
  }
  const parsed = JSON.parse(text) as { certificates?: unknown };
  const requests: AcmeRequest[] = [];
  const skipped: string[] = [];
  for (const entry of Array.isArray(parsed.certificates) ? (parsed.certificates as unknown[]) : []) {
    const { name, hosts } = (entry ?? {}) as { name?: unknown; hosts?: unknown };
    const valid =
      typeof name === 'string' &&
      isCertificateName(name) &&
      Array.isArray(hosts) &&
      hosts.length > 0 &&
      hosts.every((h) => typeof h === 'string' && acmeHostProblem(h) === undefined);
    if (valid) requests.push({ name, hosts: hosts as string[] });
    else skipped.push(JSON.stringify(entry).slice(0, 200));
  }
  return { requests, skipped };
}

/** Replaces the requests file atomically (temp file, fsync, rename); 500 STATE_WRITE_FAILED when it cannot. */
export async function writeAcmeRequests(path: string, requests: readonly AcmeRequest[]): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFileAtomic(path, `${JSON.stringify({ certificates: requests.map((r) => ({ name: r.name, hosts: r.hosts })) }, null, 2)}\n`, { mode: 0o600 });
  } catch (err) {
    throw new SwitchyardError('STATE_WRITE_FAILED', `the ACME requests file could not be written: ${messageOf(err)}`);
  }
}

/**
 * The API's requests as last written: changes go to the file one at a time, in the order
 * they were made, each computed from the list the write before it left (so two requests
 * arriving together both stay), and count only once written (a failed write changes nothing).
 */
export class AcmeRequests {
  private current: AcmeRequest[] = [];
  private readonly writes = new SerialQueue();

  constructor(
    private readonly path: string,
    private readonly log: Logger,
  ) {}

  /** Every request, in the order they were made. */
  get all(): readonly AcmeRequest[] {
    return this.current;
  }

  /** Reads the file at start; skipped entries are logged, and an unreadable file is logged and read as none. */
  async load(): Promise<void> {
    try {
      const { requests, skipped } = await readAcmeRequests(this.path);
      this.current = requests;
      if (skipped.length > 0) this.log.warn({ file: this.path, skipped }, 'ignoring invalid entries of the ACME requests file');
    } catch (err) {
      this.log.error({ file: this.path, err: messageOf(err) }, 'ACME requests file cannot be read; certificates requested through the API are not renewed');
    }
  }

  /** Records one more request. */
  add(request: AcmeRequest): Promise<void> {
    return this.change((requests) => [...requests, request]);
  }

  /** Drops the request of `name`. */
  remove(name: string): Promise<void> {
    return this.change((requests) => requests.filter((r) => r.name !== name));
  }

  private change(edit: (requests: AcmeRequest[]) => AcmeRequest[]): Promise<void> {
    return this.writes.run(async () => {
      const next = edit(this.current);
      await writeAcmeRequests(this.path, next);
      this.current = next;
    });
  }
}
