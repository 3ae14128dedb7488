import type { ChallengeResponder } from '../acme/challenges.js';
import type { Server as HttpsServer } from 'node:https';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import type { Config, ListenerConfig } from '../config/schema.js';
import { messageOf } from '../errors.js';
import type { StackMeter } from '../pool/stack-meter.js';
import type { ReloadStep } from '../state/controller.js';
import type { RoutingSource } from '../state/routing-source.js';
import { hstsHeaderValue, tlsServerOptions, trackDefaultCertificate } from '../tls/server-options.js';
import type { CertificateProvider } from '../tls/provider.js';
import type { Forwarder } from './exchange.js';
import type { FailoverNotices } from './failover.js';
import { type ListenerRouting, RequestHandler } from './handler.js';
import { ProxyListener } from './listener.js';
import type { Mirror } from './mirror.js';
import type { WebSocketProxy } from './websocket.js';

/** What every listener shares. */
export interface ListenerDeps {
  readonly controller: RoutingSource;
  readonly forwarder: Forwarder;
  readonly websockets: WebSocketProxy;
  readonly certificates: CertificateProvider;
  readonly failover: FailoverNotices;
  /** Counts requests that match no service. */
  readonly unmatched: StackMeter;
  /** Sends mirrored copies. */
  readonly mirror: Mirror;
  /** Header name/value pairs, flat, added to every proxied response on every listener. */
  readonly responseHeaders?: readonly string[] | undefined;
  /** ACME http-01 answers, checked before routing on plain-HTTP listeners. */
  readonly challenges: ChallengeResponder;
  readonly log: Logger;
}

/** A bound listener and what undoes its certificate tracking. */
interface Bound {
  readonly listener: ProxyListener;
  readonly untrack: () => void;
}

/** A listener whose port is held by one that goes away: the old one stops accepting, then the new one binds. */
interface Move {
  readonly config: ListenerConfig;
  readonly replaces: Bound;
}

/**
 * The public listeners, by name: opened at start, changed by reloads, closed on stop. A
 * listener whose config is unchanged keeps its server and its connections; the limits
 * a live server can take (connections, timeouts) and the access log are applied to it.
 */
export class ListenerSet {
  private readonly deps: ListenerDeps;
  private readonly open = new Map<string, Bound>();
  /** Listeners that left the config and are finishing their requests. */
  private readonly retiring = new Set<ProxyListener>();

  constructor(deps: ListenerDeps) {
    this.deps = deps;
  }

  /** Binds every listener of `config`; on a failure closes those bound and throws. */
  async start(config: Config): Promise<void> {
    const step = this.reloadStep(config);
    await step.prepare();
    step.commit();
  }

  /** The bound port of a listener, by name. */
  port(name: string): number {
    const found = this.open.get(name);
    if (!found) throw new Error(`no listener ${name}`);
    return found.listener.port;
  }

  /** Listener name → bound port. */
  ports(): Record<string, number> {
    return Object.fromEntries([...this.open].map(([name, bound]) => [name, bound.listener.port]));
  }

  /** Certificate names that are some TLS listener's default_cert (they cannot be deleted). */
  defaultCerts(): ReadonlySet<string> {
    const names = new Set<string>();
    for (const { listener } of this.open.values())
      if (listener.config.tls && listener.config.default_cert !== undefined) names.add(listener.config.default_cert);
    return names;
  }

  /**
   * The listener side of a reload to `config`. `prepare` binds every listener whose port
   * is not held now (a port in use fails the reload before anything changed), then moves
   * the listeners whose port a changed or removed listener holds: the old one stops
   * accepting and the new one binds; should that fail, the old ones are bound again and
   * the reload fails. `commit` installs the new listeners, applies the reloadable limits
   * and the access log to the unchanged ones and lets the removed ones finish their
   * requests (up to shutdown_timeout).
   */
  reloadStep(config: Config): ReloadStep {
    const wanted = new Map(config.listeners.map((l) => [l.name, l]));
    const unchanged = [...this.open].filter(([name, bound]) => isDeepStrictEqual(wanted.get(name), bound.listener.config)).map(([name]) => name);
    const leaving = [...this.open.values()].filter((bound) => !unchanged.includes(bound.listener.config.name));
    const fresh: ListenerConfig[] = [];
    const moves: Move[] = [];
    for (const next of wanted.values()) {
      if (unchanged.includes(next.name)) continue;
      const holder = next.port === 0 ? undefined : leaving.find((bound) => bound.listener.config.port === next.port);
      if (holder === undefined) fresh.push(next);
      else moves.push({ config: next, replaces: holder });
    }
    const bound: Bound[] = [];
    return {
      prepare: async () => {
        try {
          for (const listener of fresh) bound.push(await this.bind(listener, config));
          bound.push(...(await this.move(moves, config)));
        } catch (err) {
          await Promise.all(bound.splice(0).map((b) => this.closeNow(b)));
          throw err;
        }
      },
      commit: () => {
        for (const old of leaving) {
          this.open.delete(old.listener.config.name);
          if (!moves.some((m) => m.replaces === old)) this.retire(old, config.shutdown_timeout);
        }
        for (const b of bound) this.open.set(b.listener.config.name, b);
        for (const name of unchanged) {
          const kept = this.open.get(name);
          if (kept) this.applyLive(kept.listener, config);
        }
      },
    };
  }

  /** Stops every listener; in-flight requests get up to `timeout` ms. */
  async close(timeout: number): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    for (const { untrack } of all) untrack();
    await Promise.all([...all.map((b) => b.listener.close(timeout)), ...[...this.retiring].map((l) => l.close(timeout))]);
  }

  /** Moves listeners onto ports that leaving listeners hold; on a failure binds the old ones again and throws. */
  private async move(moves: readonly Move[], config: Config): Promise<Bound[]> {
    const moved: Bound[] = [];
    const stopped: Bound[] = [];
    try {
      for (const { config: next, replaces } of moves) {
        if (!stopped.includes(replaces)) {
          stopped.push(replaces);
          this.retire(replaces, config.shutdown_timeout);
        }
        moved.push(await this.bind(next, config));
      }
      return moved;
    } catch (err) {
      await Promise.all(moved.map((b) => this.closeNow(b)));
      const running = this.deps.controller.currentConfig;
      for (const old of stopped) {
        try {
          this.open.set(old.listener.config.name, await this.bind(old.listener.config, running));
        } catch (restoreErr) {
          this.deps.log.error({ listener: old.listener.config.name, err: messageOf(restoreErr) }, 'listener could not be bound again after a failed reload');
        }
      }
      throw err;
    }
  }

  /** Builds and binds one listener with the limits and logging of `config`. */
  private async bind(config: ListenerConfig, settings: Config): Promise<Bound> {
    const { deps } = this;
    const hsts = config.tls ? hstsHeaderValue(config) : undefined;
    const headers = [...(hsts === undefined ? [] : ['Strict-Transport-Security', hsts]), ...(deps.responseHeaders ?? [])];
    const routing: ListenerRouting = {
      proto: config.tls ? 'https' : 'http',
      port: String(config.port),
      routeToStandby: config.route_to === 'standby',
      responseHeaders: headers.length === 0 ? undefined : headers,
    };
    const handler = new RequestHandler(deps.controller, deps.forwarder, routing);
    handler.unmatchedMeter = deps.unmatched;
    handler.onFailover = deps.failover.notice;
    handler.mirror = deps.mirror;
    if (!config.tls) handler.acmeChallenges = deps.challenges;
    const tls = config.tls ? tlsServerOptions(deps.certificates, config) : undefined;
    const onUpgrade = deps.websockets.handle.bind(deps.websockets, routing);
    const listener = new ProxyListener(config, settings.limits, handler, onUpgrade, tls);
    this.applyLive(listener, settings);
    let untrack: () => void = () => undefined;
    if (config.tls) {
      untrack = trackDefaultCertificate(listener.server as HttpsServer, deps.certificates, config);
      // Scanners and plain-HTTP clients on a TLS port fail handshakes all day: not worth more than debug.
      listener.server.on('tlsClientError', (err: Error) => deps.log.debug({ err, listener: config.name }, 'TLS handshake failed'));
      if (listener.h2) listener.h2.onFlood = (client, resets) => deps.log.warn({ listener: config.name, client, resets }, 'HTTP/2 connection cut: rapid reset');
    }
    try {
      const port = await listener.listen();
      if (config.port === 0) (routing as { port: string }).port = String(port);
    } catch (err) {
      untrack();
      throw new Error(`listener "${config.name}" cannot listen on ${config.address}:${config.port}: ${messageOf(err)}`, { cause: err });
    }
    return { listener, untrack };
  }

  /** What a running server can take from a reload: connection limit, client timeouts, the access log. */
  private applyLive(listener: ProxyListener, config: Config): void {
    const { limits } = config;
    const server = listener.server;
    server.maxConnections = limits.max_connections;
    // Node requires headersTimeout <= requestTimeout: a shorter whole-request limit also bounds the head.
    server.headersTimeout = Math.min(limits.header_timeout, limits.request_timeout);
    server.requestTimeout = limits.request_timeout;
    server.keepAliveTimeout = limits.keepalive_timeout;
    listener.handler.accessLog = config.logging.access_log ? this.deps.log.child({ listener: listener.config.name }) : undefined;
  }

  /** Stops accepting at once; open requests finish within `timeout` ms. */
  private retire(bound: Bound, timeout: number): void {
    bound.untrack();
    this.retiring.add(bound.listener);
    void bound.listener.close(timeout).then(() => this.retiring.delete(bound.listener));
  }

  private async closeNow(bound: Bound): Promise<void> {
    bound.untrack();
    await bound.listener.close(0);
  }
}
