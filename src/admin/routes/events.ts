import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { EventBus } from '../../events/bus.js';
import { refuse } from '../../proxy/refuse.js';
import { foreignOrigin, tokenMatches } from '../guards.js';

/** What the event stream needs: the admin server, its guards and the bus. */
export interface EventStreamOptions {
  readonly server: Server;
  readonly events: EventBus;
  readonly token: string | undefined;
  readonly loopback: boolean;
}

/**
 * `GET /v1/events` as a WebSocket: every event (switch, weights, health, certificate…)
 * as one JSON text message. Same guards as /v1: loopback Host/Origin and the bearer token.
 * Returns a function that closes every stream.
 */
export function attachEventStream(options: EventStreamOptions): () => void {
  // Clients only listen: tiny payload limit on what they may send.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 });
  options.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (req.url?.split('?')[0] !== '/v1/events') return refuse(socket, 'NOT_FOUND');
    if (options.loopback && foreignOrigin(req.headers.host, req.headers.origin)) return refuse(socket, 'FORBIDDEN_ORIGIN');
    if (options.token !== undefined && !tokenMatches(req.headers.authorization, options.token)) return refuse(socket, 'UNAUTHORIZED');
    wss.handleUpgrade(req, socket, head, (ws) => {
      const unsubscribe = options.events.subscribe((event) => {
        // A client that cannot keep up is cut rather than buffered without bound.
        if (ws.bufferedAmount > 1_048_576) ws.terminate();
        else ws.send(JSON.stringify(event));
      });
      ws.on('close', unsubscribe);
      ws.on('error', () => ws.terminate());
    });
  });
  return () => {
    for (const client of wss.clients) client.terminate();
    wss.close();
  };
}
