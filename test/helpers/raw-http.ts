import { connect, type Socket } from 'node:net';
import { trackInTest } from './cleanup.js';

/** Sends raw bytes to 127.0.0.1:`port` and collects everything until the proxy closes (or `ms` pass). */
export function rawHttp(port: number, bytes: string, ms = 3000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let text = '';
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

/** Opens a connection to 127.0.0.1:`port` and hangs up: 'connected', or the error's code (ECONNREFUSED when nothing listens). */
export function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

/** A raw client socket kept open: what it received, whether and how it was closed, and when. Opened in a test, it is destroyed when the test ends. */
export class RawClient {
  readonly socket: Socket;
  readonly opened = Date.now();
  text = '';
  closed = false;
  closedAt = 0;
  /** The socket error seen before close (e.g. ECONNRESET), if any. */
  error: string | undefined;
  private connected: Promise<void>;

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.connected = new Promise((resolve) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('close', () => resolve());
    });
    this.socket.on('data', (c: Buffer) => (this.text += c.toString('latin1')));
    this.socket.on('error', (err: NodeJS.ErrnoException) => (this.error = err.code ?? err.message));
    this.socket.on('close', () => {
      this.closed = true;
      this.closedAt = Date.now();
    });
    trackInTest({ close: () => this.destroy() });
  }

  /** Resolves once connected (or closed before connecting). */
  ready(): Promise<void> {
    return this.connected;
  }

  write(bytes: string): void {
    this.socket.write(bytes);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
