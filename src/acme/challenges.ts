import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { AcmeFleet } from './fleet.js';

/** Where the CA's validator asks for an http-01 token (RFC 8555 §8.3). */
export const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/** A token to start or stop answering, as worker processes apply it. */
export type ChallengeChange =
  | { readonly action: 'add'; readonly token: string; readonly host: string; readonly keyAuthorization: string }
  | { readonly action: 'remove'; readonly token: string };

interface Pending {
  /** The host the token proves (the authorization's identifier), lower case. */
  readonly host: string;
  /** The body to answer: `token.thumbprint`. */
  readonly keyAuthorization: string;
}

/** The host part of a Host header (port and IPv6 brackets dropped), lower case. */
function hostOnly(header: string | undefined): string {
  if (header === undefined) return '';
  const end = header.startsWith('[') ? header.indexOf(']') + 1 : header.lastIndexOf(':');
  return (end > 0 ? header.slice(0, end) : header).toLowerCase();
}

/**
 * The http-01 tokens switchyard is waiting on, answered on the plain-HTTP listeners
 * before routing. Only a GET or HEAD of exactly `/.well-known/acme-challenge/<token>` for a
 * token in flight, with the Host it was issued for, is answered; everything else
 * (unknown tokens included) is routed as before, so a service behind switchyard that runs
 * its own ACME client keeps working. With no order in flight the check is one size test.
 */
export class ChallengeResponder {
  private readonly tokens = new Map<string, Pending>();
  /** Logs each answered validation request (info), so an operator can see the CA come by. */
  log: Logger | undefined;
  private replicate: ((change: ChallengeChange) => Promise<void>) | undefined;
  private fleet: AcmeFleet | undefined;

  /** Installs the step each change goes through (with workers: every worker answers the token before `add` resolves). Must not throw. */
  replicateWith(replicate: (change: ChallengeChange) => Promise<void>): void {
    this.replicate = replicate;
  }

  /**
   * Shares this instance's tokens through the fleet's store and answers the ones other
   * instances put there (the CA's validator reaches whichever instance DNS names).
   * Resolves once the tokens in the store now are answered here.
   */
  async shareWith(fleet: AcmeFleet): Promise<void> {
    this.fleet = fleet;
    await fleet.followChallenges(
      ({ token, host, keyAuthorization }) => this.answer(token, host, keyAuthorization),
      (token) => this.forget(token),
    );
  }

  /**
   * Starts answering `token` for `host` with `keyAuthorization`; resolves once every
   * process serving the plain listeners does, and with a fleet once the token is in the
   * store (and delivered back by this instance's watch).
   */
  async add(token: string, host: string, keyAuthorization: string): Promise<void> {
    await this.answer(token, host, keyAuthorization);
    await this.fleet?.publishChallenge({ token, host, keyAuthorization });
  }

  /** Stops answering `token` (the challenge is done, or failed), here and in the fleet. */
  remove(token: string): void {
    this.forget(token);
    void this.fleet?.withdrawChallenge(token);
  }

  /** Answers `token` in every process of this instance. */
  private async answer(token: string, host: string, keyAuthorization: string): Promise<void> {
    const known = this.tokens.get(token);
    if (known?.host === host.toLowerCase() && known.keyAuthorization === keyAuthorization) return;
    this.tokens.set(token, { host: host.toLowerCase(), keyAuthorization });
    await this.replicate?.({ action: 'add', token, host, keyAuthorization });
  }

  /** Stops answering `token` in every process of this instance. */
  private forget(token: string): void {
    if (!this.tokens.delete(token)) return;
    void this.replicate?.({ action: 'remove', token });
  }

  /** Every token in flight, as changes that add them (for a worker starting now). */
  pending(): ChallengeChange[] {
    return [...this.tokens].map(([token, { host, keyAuthorization }]) => ({ action: 'add', token, host, keyAuthorization }));
  }

  /** Applies a change made in another process (the primary), without passing it on. */
  apply(change: ChallengeChange): void {
    if (change.action === 'add') this.tokens.set(change.token, { host: change.host.toLowerCase(), keyAuthorization: change.keyAuthorization });
    else this.tokens.delete(change.token);
  }

  /** Tokens in flight (for tests and status). */
  get size(): number {
    return this.tokens.size;
  }

  /**
   * Answers the request when it asks for a token in flight and returns true; returns
   * false (touching nothing) otherwise. `path` is the origin-form path of the request.
   */
  respond(req: IncomingMessage, res: ServerResponse, path: string, host: string | undefined): boolean {
    if (this.tokens.size === 0 || !path.startsWith(CHALLENGE_PREFIX)) return false;
    const pending = this.tokens.get(path.slice(CHALLENGE_PREFIX.length));
    if (pending === undefined || pending.host !== hostOnly(host) || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    this.log?.info({ host: pending.host, path, remote: req.socket.remoteAddress }, 'ACME http-01 challenge answered');
    // RFC 8555 §8.3: the body is the key authorization, as application/octet-stream.
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': Buffer.byteLength(pending.keyAuthorization),
      'cache-control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : pending.keyAuthorization);
    return true;
  }
}
