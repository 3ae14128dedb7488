import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { axios as acmeHttp, Client, crypto as acmeCrypto, setLogger } from 'acme-client';
import type { AxiosAdapter } from 'axios';
import type { Logger } from 'pino';
import writeFileAtomic from 'write-file-atomic';
import type { AcmeConfig } from '../config/schema.js';
import type { ChallengeResponder } from './challenges.js';
import { messageOf } from '../errors.js';

/** A certificate chain (leaf first) and its key, as the CA issued them. */
export interface IssuedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

/** One request to the CA may take this long (acme-client sets no limit: a CA that accepts and never answers would hang an order). */
const REQUEST_TIMEOUT_MS = 30_000;
/** Polling of a challenge or order for its final status: from 500 ms, doubling, at most 10 s between polls, ~80 s in all. */
const POLL = { backoffAttempts: 12, backoffMin: 500, backoffMax: 10_000 } as const;

/** acme-client's retry settings live on its shared axios instance, outside the typed defaults. */
interface RetrySettings {
  retryMaxAttempts: number;
}

/**
 * The axios HTTP adapter acme-client itself uses (resolved from acme-client, so the same
 * copy), wrapped so a request that got no response (refused, reset, timed out, TLS
 * refused) fails with its own reason. acme-client's response hook reads `error.response`
 * of such errors once its retries are spent and throws "Cannot read properties of
 * undefined (reading 'config')" instead (node-acme-client issue #101, open in 5.4.0); an
 * error without `config` passes through that hook untouched.
 */
function answeredOrExplained(): AxiosAdapter {
  const axios = createRequire(createRequire(import.meta.url).resolve('acme-client'))('axios') as { getAdapter(name: string): AxiosAdapter };
  const http = axios.getAdapter('http');
  return async (config) => {
    try {
      return await http(config);
    } catch (err) {
      if ((err as { response?: unknown }).response !== undefined) throw err;
      throw new Error(`${(config.method ?? 'get').toUpperCase()} ${config.url ?? ''}: ${messageOf(err)}`);
    }
  };
}

/**
 * Orders certificates from an ACME CA with the maintained `acme-client` library (its own CI
 * runs against Pebble): an account per directory URL whose key is kept in
 * `<certs_dir>/acme/` (0600), one ECDSA P-256 key per certificate, http-01 answered by the
 * ChallengeResponder. The library's HTTP client is one per process, so its settings (the
 * CA bundle of `ca_file`, timeouts, no retries of its own: a failed order is retried with
 * backoff by the renewal scheduler, which also reports it) are set before each order, and
 * orders run one at a time.
 */
export class AcmeIssuer {
  private client: Client | undefined;
  private clientDirectory = '';
  private adapter: AxiosAdapter | undefined;

  constructor(
    private readonly accountDir: string,
    private readonly challenges: ChallengeResponder,
    private readonly log: Logger,
  ) {
    setLogger((message) => log.debug({ acme: message }, 'acme-client'));
  }

  /** Orders a certificate for `hosts` (every name validated with http-01); rejects with the CA's or the network's reason. */
  async issue(config: AcmeConfig, hosts: readonly string[]): Promise<IssuedCertificate> {
    await this.configureHttp(config);
    const client = await this.clientFor(config.directory);
    const certificateKey = await acmeCrypto.createPrivateEcdsaKey('P-256');
    const [, csr] = await acmeCrypto.createCsr(
      { altNames: [...hosts], ...((hosts[0] ?? '').length <= 64 ? { commonName: hosts[0] as string } : {}) },
      certificateKey,
    );
    const tokens: string[] = [];
    try {
      const certPem = await client.auto({
        csr,
        ...(config.email === undefined ? {} : { email: config.email }),
        termsOfServiceAgreed: true,
        challengePriority: ['http-01'],
        // The library's self-check fetches the token over the public internet on port 80 before
        // telling the CA; behind NAT or split DNS that check fails where the CA's would pass.
        skipChallengeVerification: true,
        challengeCreateFn: async (authz, challenge, keyAuthorization) => {
          if (challenge.type !== 'http-01') throw new Error(`the CA offers no http-01 challenge for ${authz.identifier.value}`);
          tokens.push(challenge.token);
          // With workers, resolves once every worker answers the token: only then may the CA be told to validate.
          await this.challenges.add(challenge.token, authz.identifier.value, keyAuthorization);
          this.log.info({ host: authz.identifier.value, token: challenge.token }, 'ACME http-01 challenge ready');
        },
        challengeRemoveFn: async (_authz, challenge) => {
          this.challenges.remove(challenge.token);
        },
      });
      return { certPem, keyPem: certificateKey.toString() };
    } finally {
      for (const token of tokens) this.challenges.remove(token);
    }
  }

  private async configureHttp(config: AcmeConfig): Promise<void> {
    let ca: string | undefined;
    if (config.ca_file !== undefined) {
      try {
        ca = await readFile(config.ca_file, 'utf8');
      } catch (err) {
        throw new Error(`acme.ca_file ${config.ca_file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}`);
      }
    }
    // No keep-alive: an order is a dozen requests minutes or months apart, and a pooled socket to a restarted CA only fails the next one.
    acmeHttp.defaults.httpsAgent = new Agent(ca === undefined ? {} : { ca });
    acmeHttp.defaults.timeout = REQUEST_TIMEOUT_MS;
    this.adapter ??= answeredOrExplained();
    acmeHttp.defaults.adapter = this.adapter;
    const settings = (acmeHttp.defaults as { acmeSettings?: RetrySettings }).acmeSettings;
    if (settings !== undefined) settings.retryMaxAttempts = 0;
  }

  /** The client of `directory`, with its account key from disk (made on first use). */
  private async clientFor(directory: string): Promise<Client> {
    if (this.client !== undefined && this.clientDirectory === directory) return this.client;
    this.client = new Client({ directoryUrl: directory, accountKey: await this.accountKey(directory), ...POLL });
    this.clientDirectory = directory;
    return this.client;
  }

  /** One account per CA directory: `account-<sha256(directory) prefix>.key`, kept so restarts reuse the account (CAs rate-limit new ones). */
  private async accountKey(directory: string): Promise<string> {
    const path = join(this.accountDir, `account-${createHash('sha256').update(directory).digest('hex').slice(0, 16)}.key`);
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await mkdir(this.accountDir, { recursive: true, mode: 0o700 });
    const key = (await acmeCrypto.createPrivateEcdsaKey('P-256')).toString();
    await writeFileAtomic(path, key, { mode: 0o600 });
    this.log.info({ directory, key: path }, 'ACME account key created');
    return key;
  }
}
