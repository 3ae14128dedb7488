import { close, open, read, unlink, write } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BufferBudget } from './body-buffer.js';
import { clearSendTimeout } from './send-timeout.js';

/** Bytes a spool keeps in memory before it moves to a temp file. */
const MEMORY_BYTES = 64 * 1024;
/** Bytes handed to the file system and not yet written, past which the upstream is paused until the disk catches up. */
const WRITING_BYTES = 1024 * 1024;
/** Bytes read back from the temp file at a time. */
const READ_BYTES = 64 * 1024;

let spoolFiles = 0;

/** Who holds a spool (the exchange). */
export interface SpoolOwner {
  /** The spool ran empty while its upstream response is still arriving: the bytes go to the client directly again. */
  spoolEmptied(spool: ResponseSpool): void;
  /** The spool ended the client response. */
  responseEnded(): void;
}

/**
 * The part of one upstream response a slow client has not taken yet (nginx's proxy
 * buffering): first memory (up to 64 KiB), then a temp file that is unlinked as soon as
 * it is opened, so it never outlives the process. The upstream keeps being read into
 * it, and its connection goes back to the pool when the response is complete, while the
 * spool drains to the client on 'drain'. A client that takes nothing for
 * `limits.send_timeout` has its connection closed (only its own). Past `limit` bytes on
 * disk, or past `limits.response_spool_total` for all spools together, `push` says stop:
 * the upstream is paused until the spool empties.
 */
export class ResponseSpool {
  private readonly res: ServerResponse;
  private readonly limit: number;
  /** Bytes the temp files of all spools may hold together (`limits.response_spool_total`). */
  private readonly disk: BufferBudget;
  /** Bytes of the temp file charged to `disk`. */
  private charged = 0;
  private readonly owner: SpoolOwner;
  /** Bytes in memory, sent before anything in the file. */
  private memory: Buffer[] = [];
  private memoryBytes = 0;
  /** Bytes that go to the file (everything after the first one that did not fit in memory, until the spool empties). */
  private toFile = false;
  private fd: number | undefined = undefined;
  private opening = false;
  /** Chunks waiting to be written to the file, in order. */
  private writeQueue: Buffer[] = [];
  private writeQueued = 0;
  private writing = false;
  /** File offsets: next read, bytes written. */
  private readAt = 0;
  private writtenTo = 0;
  private readingFile = false;
  /** The client response pushed back: nothing more is written until 'drain'. */
  private clientFull = true;
  /** The upstream response is complete; its trailers wait for the spool to empty. */
  private ended = false;
  private trailers: readonly [string, string][] | undefined = undefined;
  private destroyed = false;
  /** Set when `push` said stop; called once there is room again. */
  private blocked: (() => void) | undefined = undefined;

  /** Starts spooling for `res`, whose last write pushed back; the client then has `sendTimeout` ms to take bytes. */
  constructor(res: ServerResponse, limit: number, disk: BufferBudget, sendTimeout: number, owner: SpoolOwner) {
    this.res = res;
    this.limit = limit;
    this.disk = disk;
    this.owner = owner;
    res.setTimeout(sendTimeout);
    res.on('drain', this.onDrain);
  }

  /** Bytes held now (memory, file, and on the way to the file). */
  get size(): number {
    return this.memoryBytes + (this.writtenTo - this.readAt) + this.writeQueued;
  }

  /** Queues `chunk` after everything before it; false when the upstream should stop until `resume` runs. */
  push(chunk: Buffer, resume: () => void): boolean {
    if (this.destroyed) return true;
    if (!this.toFile && this.memoryBytes + chunk.length <= MEMORY_BYTES) {
      this.memory.push(chunk);
      this.memoryBytes += chunk.length;
      return true;
    }
    this.toFile = true;
    this.writeQueue.push(chunk);
    this.writeQueued += chunk.length;
    // Offsets only grow until the spool empties: the file's size is the furthest byte.
    const fileEnd = this.writtenTo + this.writeQueued;
    if (fileEnd > this.charged) {
      this.disk.charge(fileEnd - this.charged);
      this.charged = fileEnd;
    }
    this.flushToFile();
    if (this.hasRoom()) return true;
    this.blocked = resume;
    return false;
  }

  /** The upstream response is complete: the client response ends (with `trailers`) once the spool is empty. */
  end(trailers: readonly [string, string][] | undefined): void {
    this.ended = true;
    this.trailers = trailers;
    this.pump();
  }

  /** The upstream connection is done with this response: a later room-again must not resume it (it may carry another response by then). */
  forgetResume(): void {
    this.blocked = undefined;
  }

  /** Drops what is held and closes the temp file (the client left, or the exchange failed). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.res.off('drain', this.onDrain);
    this.memory = [];
    this.writeQueue = [];
    this.blocked = undefined;
    this.refund();
    this.closeFile();
  }

  private hasRoom(): boolean {
    return this.writeQueued <= WRITING_BYTES && this.writtenTo + this.writeQueued <= this.limit && this.disk.inUse <= this.disk.total;
  }

  /** Gives the temp file's bytes back to the disk budget. */
  private refund(): void {
    this.disk.refund(this.charged);
    this.charged = 0;
  }

  private readonly onDrain = (): void => {
    this.clientFull = false;
    this.pump();
  };

  /** Sends what the client takes: memory first, then the file, until it pushes back or the spool is empty. */
  private pump(): void {
    if (this.destroyed || this.clientFull || this.readingFile) return;
    const res = this.res;
    while (this.memory.length > 0) {
      const chunk = this.memory.shift() as Buffer;
      this.memoryBytes -= chunk.length;
      if (!res.write(chunk)) {
        this.clientFull = true;
        return;
      }
    }
    if (this.readAt < this.writtenTo && this.fd !== undefined) {
      this.readFile(this.fd);
      return;
    }
    if (this.writeQueued > 0 || this.writing || this.opening) return; // the rest is on its way to the file
    this.emptied();
  }

  private readFile(fd: number): void {
    this.readingFile = true;
    const length = Math.min(READ_BYTES, this.writtenTo - this.readAt);
    read(fd, Buffer.allocUnsafe(length), 0, length, this.readAt, (err, bytes, buffer) => {
      this.readingFile = false;
      if (this.destroyed) return;
      if (err !== null || bytes === 0) {
        this.fail();
        return;
      }
      this.readAt += bytes;
      this.unblock();
      if (!this.res.write(bytes === buffer.length ? buffer : buffer.subarray(0, bytes))) this.clientFull = true;
      this.pump();
    });
  }

  /** Everything held was sent: end the response, or hand the client back to the upstream directly. */
  private emptied(): void {
    // File offsets start over, so the file never grows past the most it held at once.
    this.toFile = false;
    this.readAt = 0;
    this.writtenTo = 0;
    this.refund();
    this.unblock();
    if (this.ended) {
      this.destroy();
      const res = this.res;
      if (this.trailers !== undefined) res.addTrailers(this.trailers);
      // The client caught up: it keeps its send timeout only until the last bytes leave.
      res.once('finish', clearSendTimeout);
      res.end();
      this.owner.responseEnded();
      return;
    }
    this.res.setTimeout(0);
    this.destroy();
    this.owner.spoolEmptied(this);
  }

  private unblock(): void {
    const blocked = this.blocked;
    if (blocked === undefined || !this.hasRoom()) return;
    this.blocked = undefined;
    blocked();
  }

  private flushToFile(): void {
    if (this.writing || this.destroyed) return;
    const fd = this.fd;
    if (fd === undefined) {
      this.openFile();
      return;
    }
    const chunk = this.writeQueue.shift();
    if (chunk === undefined) return;
    this.writing = true;
    write(fd, chunk, 0, chunk.length, this.writtenTo, (err) => {
      this.writing = false;
      if (this.destroyed) return;
      if (err !== null) {
        this.fail();
        return;
      }
      this.writeQueued -= chunk.length;
      this.writtenTo += chunk.length;
      this.unblock();
      this.flushToFile();
      this.pump();
    });
  }

  private openFile(): void {
    if (this.opening) return;
    this.opening = true;
    const path = join(tmpdir(), `switchyard-spool-${process.pid}-${++spoolFiles}`);
    open(path, 'wx+', 0o600, (err, fd) => {
      this.opening = false;
      if (err !== null) {
        this.fail();
        return;
      }
      // Unlinked at once: the bytes live as long as the descriptor, never longer.
      unlink(path, ignore);
      if (this.destroyed) {
        close(fd, ignore);
        return;
      }
      this.fd = fd;
      this.flushToFile();
    });
  }

  private closeFile(): void {
    const fd = this.fd;
    if (fd === undefined) return;
    this.fd = undefined;
    // A read or write in flight still uses the descriptor: close after it.
    if (this.readingFile || this.writing) setImmediate(closeWhenIdle, this, fd);
    else close(fd, ignore);
  }

  /** Waits for a pending read or write on `fd` before closing it. */
  idleThenClose(fd: number): void {
    if (this.readingFile || this.writing) setImmediate(closeWhenIdle, this, fd);
    else close(fd, ignore);
  }

  /** The temp file failed (disk full, I/O error): the client cannot get its whole response, so its connection closes. */
  private fail(): void {
    this.destroy();
    this.res.destroy();
  }
}

function closeWhenIdle(spool: ResponseSpool, fd: number): void {
  spool.idleThenClose(fd);
}

function ignore(): void {}
