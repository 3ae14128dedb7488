import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { EventBus } from '../../events/bus.js';
import type { FiguresFeed } from '../../metrics/figures.js';
import { refuse } from '../../proxy/refuse.js';
import { foreignOrigin, tokenMatches } from '../guards.js';
import { bearerFromProtocols, chooseProtocol } from '../ws-auth.js';

/** What the event stream needs: the admin server, its guards and the bus. */
export interface EventStreamOptions {
  readonly server: Server;
  readonly events: EventBus;
  readonly token: string | undefined;
  readonly loopback: boolean;
  /** Figures ticks (per-stack req/s, 5xx, p99; targets' last checks), sent every few seconds to clients that ask with `?figures=1` (the dashboard). */
  readonly figures?: FiguresFeed | undefined;
}

/**
 * `GET /v1/events` as a WebSocket: every event (switch, weights, health, certificate…)
 * as one JSON text message. Same guards as /v1: loopback Host/Origin and the bearer token,
 * from `Authorization` or, for browsers, a subprotocol (see ws-auth.ts).
 * Returns a function that closes every stream.
 */
export function attachEventStream(options: EventStreamOptions): () => void {
  // Clients only listen: tiny payload limit on what they may send.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024, handleProtocols: chooseProtocol });
  options.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (req.url?.split('?')[0] !== '/v1/events') return refuse(socket, 'NOT_FOUND');
    if (options.loopback && foreignOrigin(req.headers.host, req.headers.origin)) return refuse(socket, 'FORBIDDEN_ORIGIN');
    const authorization = req.headers.authorization ?? bearerFromProtocols(req.headers['sec-websocket-protocol']);
    if (options.token !== undefined && !tokenMatches(authorization, options.token)) return refuse(socket, 'UNAUTHORIZED');
    wss.handleUpgrade(req, socket, head, (ws) => {
      const send = (event: object) => {
        // A client that cannot keep up is cut rather than buffered without bound.
        if (ws.bufferedAmount > 1_048_576) ws.terminate();
        else ws.send(JSON.stringify(event));
      };
      const unsubscribe = options.events.subscribe(send);
      const unfollow = new URLSearchParams(req.url?.split('?')[1]).get('figures') === '1' ? options.figures?.subscribe(send) : undefined;
      ws.on('close', () => {
        unsubscribe();
        unfollow?.();
      });
      ws.on('error', () => ws.terminate());
    });
  });
  return () => {
    for (const client of wss.clients) client.terminate();
    wss.close();
  };
}
