import type { StreamEvent } from './types.js';

/** Where the event stream stands, for the connection indicator. */
export type StreamStatus = { readonly state: 'connecting' } | { readonly state: 'live' } | { readonly state: 'disconnected'; readonly since: number };

/** What the stream reports to. */
export interface StreamHandlers {
  /** Subprotocols to offer: `switchyard.v1`, and the token entry when there is a token. */
  protocols(): string[];
  onEvent(event: StreamEvent): void;
  /** Connected (again): the page reloads the state, since events may have been missed. */
  onOpen(): void;
  onStatus(status: StreamStatus): void;
  /** A connection attempt failed before opening (server down, or the token refused). */
  onRefused(): void;
}

/** First retry delay and the cap of the doubling backoff, ms. */
const RETRY_FIRST = 500;
const RETRY_MAX = 5000;

/**
 * `/v1/events` with figures, reconnecting by itself with a doubling backoff. A connection
 * that stays silent longer than `silence` ms (figures arrive every few seconds) is taken
 * for dead and replaced: a vanished peer does not always close the socket.
 */
export class EventStream {
  private readonly handlers: StreamHandlers;
  private socket: WebSocket | undefined;
  private retry: number | undefined;
  private watchdog: number | undefined;
  private attempt = 0;
  private running = false;
  private lastMessage = 0;
  private disconnectedSince = 0;
  /** Longest silence tolerated on an open stream, ms; 0 = no limit (no figures to expect). */
  silence = 0;

  constructor(handlers: StreamHandlers) {
    this.handlers = handlers;
  }

  /** Connects (if not already). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
    this.watchdog = window.setInterval(() => this.check(), 1000);
  }

  /** Disconnects and stops retrying. */
  stop(): void {
    this.running = false;
    window.clearTimeout(this.retry);
    window.clearInterval(this.watchdog);
    const socket = this.socket;
    this.socket = undefined;
    socket?.close();
  }

  private connect(): void {
    const url = new URL('/v1/events?figures=1', window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (this.disconnectedSince === 0) this.handlers.onStatus({ state: 'connecting' });
    let opened = false;
    const socket = new WebSocket(url, this.handlers.protocols());
    this.socket = socket;
    socket.addEventListener('open', () => {
      opened = true;
      this.attempt = 0;
      this.disconnectedSince = 0;
      this.lastMessage = Date.now();
      this.handlers.onStatus({ state: 'live' });
      this.handlers.onOpen();
    });
    socket.addEventListener('message', (message) => {
      this.lastMessage = Date.now();
      let event: StreamEvent;
      try {
        event = JSON.parse(String(message.data)) as StreamEvent;
      } catch {
        return;
      }
      this.handlers.onEvent(event);
    });
    socket.addEventListener('close', () => this.dropped(socket, opened));
  }

  /** The socket is gone (closed, refused, or silent too long): say so and retry. */
  private dropped(socket: WebSocket, opened: boolean): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    if (!this.running) return;
    if (this.disconnectedSince === 0) this.disconnectedSince = Date.now();
    this.handlers.onStatus({ state: 'disconnected', since: this.disconnectedSince });
    const delay = Math.min(RETRY_FIRST * 2 ** this.attempt, RETRY_MAX);
    this.attempt++;
    this.retry = window.setTimeout(() => this.connect(), delay);
    if (!opened) this.handlers.onRefused();
  }

  private check(): void {
    const socket = this.socket;
    if (socket?.readyState !== WebSocket.OPEN || this.silence === 0 || Date.now() - this.lastMessage <= this.silence) return;
    // Closing a dead connection can wait a long time for the peer: stop waiting for it now.
    this.dropped(socket, true);
    socket.close();
  }
}
