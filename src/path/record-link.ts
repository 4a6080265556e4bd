import { BurrowError } from '../errors.js';
import type { StreamSocket } from '../net/stream-transport.js';
import { RecordFrameReader, recordFrameHeader } from './record-frame-reader.js';
import type { RecordPath, RecordReceiver } from './record-path.js';

/**
 * A relay path that carries sealed records over the TCP connection the
 * rendezvous splices to the other peer's, framed as
 *
 *   length u32 big-endian | sealed record
 *
 * (record-frame-reader.ts). TCP is already reliable and ordered, so there is
 * no ARQ here and nothing is ever dropped: a full send queue is reported to
 * the session (send() returns false, onDrain), and a paused receiver stops
 * reading, so TCP's own flow control reaches the sending peer.
 */

/** 256 KiB of plaintext plus room for the record's header and tag. */
export const DEFAULT_MAX_RECORD = 256 * 1024 + 64;
/** Bytes queued on the socket before send() asks the session to wait. */
export const DEFAULT_HIGH_WATER_BYTES = 4 * 1024 * 1024;
/** The largest length the u32 header can carry. */
const MAX_FRAME_LENGTH = 0xffff_ffff;

export interface RecordLinkOptions {
  /** For logs. Default "relay via rendezvous". */
  label?: string;
  /** Largest record sent or accepted. Default DEFAULT_MAX_RECORD; both ends must agree. */
  maxRecord?: number;
  /**
   * send() returns false once this many bytes are queued on the socket.
   * Default DEFAULT_HIGH_WATER_BYTES. Never below the socket's own
   * writableHighWaterMark, so the socket always emits the 'drain' onDrain waits for.
   */
  highWaterBytes?: number;
  /** Bytes read past the control hand-over (ControlConnection.detach()): the start of the record stream. */
  leftover?: Buffer;
}

export interface RecordLinkStats {
  recordsIn: number;
  recordsOut: number;
  /** Record bytes, without the 4-byte length headers. */
  bytesIn: number;
  bytesOut: number;
  /** The peer's stream carried a length of 0 or over maxRecord (the link closed). */
  corrupt: number;
}

function positiveInteger(value: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `${what} must be an integer from 1 to ${max}, got ${String(value)}`);
  }
  return value;
}

export class RecordLink implements RecordPath {
  readonly kind = 'relay' as const;
  readonly carries = 'records' as const;
  readonly label: string;
  readonly maxRecord: number;
  readonly highWaterBytes: number;
  readonly stats: RecordLinkStats = { recordsIn: 0, recordsOut: 0, bytesIn: 0, bytesOut: 0, corrupt: 0 };
  private readonly reader: RecordFrameReader;
  private receiver: RecordReceiver | null = null;
  private closed = false;
  private corked = false;
  /** pauseReading() is in force. */
  private paused = false;
  /** Inside the delivery loop (a receiver may pause, resume or close from it). */
  private delivering = false;
  private resumeScheduled = false;
  /** The 'data' listener is on (bind() ran): only then may the socket flow. */
  private reading = false;
  /** The peer ended its side cleanly: close once what it sent before is delivered. */
  private peerEnded = false;
  private readonly closeWaiters: Array<() => void> = [];
  private drainWaiters: Array<() => void> = [];

  constructor(
    private readonly socket: StreamSocket,
    opts: RecordLinkOptions = {},
  ) {
    this.label = opts.label ?? 'relay via rendezvous';
    this.maxRecord = positiveInteger(opts.maxRecord ?? DEFAULT_MAX_RECORD, MAX_FRAME_LENGTH, 'maxRecord');
    const highWater = positiveInteger(opts.highWaterBytes ?? DEFAULT_HIGH_WATER_BYTES, Number.MAX_SAFE_INTEGER, 'highWaterBytes');
    this.highWaterBytes = Math.max(highWater, socket.writableHighWaterMark);
    this.reader = new RecordFrameReader(this.maxRecord);
    if (opts.leftover) this.reader.push(opts.leftover);
    socket.setNoDelay(true);
    // No 'data' listener until bind(): the socket stays paused, so nothing
    // that arrives before there is a receiver is lost.
    socket.on('error', () => this.close());
    socket.on('end', this.onPeerEnd);
    socket.on('close', this.onSocketClose);
    socket.on('drain', this.onSocketDrain);
    if (socket.destroyed) this.close();
  }

  /**
   * Starts delivering records to `receiver`: leftover records at once, then
   * the socket's. A second bind() only swaps the receiver.
   */
  bind(receiver: RecordReceiver): this {
    const first = this.receiver === null;
    this.receiver = receiver;
    if (first && !this.closed) {
      this.deliver();
      if (this.closed) return this;
      this.socket.on('data', this.onData);
      this.reading = true;
      // Adding a 'data' listener may switch the socket to flowing: set the state we want.
      if (this.paused) this.socket.pause();
      else this.socket.resume();
    }
    return this;
  }

  /**
   * Queues one record: the 4-byte header and the record as two writes, corked
   * for the rest of this turn so a burst leaves in one writev. Never drops.
   * The socket holds `record` until it is written: do not reuse it (a
   * RecordSealer's output is fresh each time). Returns false once the queue is
   * at highWaterBytes, and after close. A record of 0 or over maxRecord bytes
   * is a caller's bug: ERR_INVALID_ARGUMENT, nothing sent.
   */
  send(record: Uint8Array): boolean {
    if (this.closed) return false;
    const length = record.length;
    if (length === 0 || length > this.maxRecord) {
      throw new BurrowError('ERR_INVALID_ARGUMENT', `record of ${length} bytes: a relay link carries 1 to ${this.maxRecord}`);
    }
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    this.socket.write(recordFrameHeader(length));
    this.socket.write(record);
    this.stats.recordsOut++;
    this.stats.bytesOut += length;
    return this.socket.writableLength < this.highWaterBytes;
  }

  /**
   * Runs `fn` once the socket's queue has drained (at once if it is under
   * the mark). Never after close: whenClosed reports that.
   */
  onDrain(fn: () => void): void {
    if (this.closed) return;
    if (this.socket.writableLength < this.highWaterBytes) fn();
    else this.drainWaiters.push(fn);
  }

  /** Stops reading: records not yet delivered wait, and the socket stops taking bytes. */
  pauseReading(): void {
    if (this.paused || this.closed) return;
    this.paused = true;
    this.socket.pause();
  }

  /** Delivers what waited (on the next tick, never inside the caller), then reads again. */
  resumeReading(): void {
    if (!this.paused || this.closed) return;
    this.paused = false;
    if (this.delivering) {
      // Paused and resumed from inside a receiver: the running loop goes on.
      if (this.reading) this.socket.resume();
      return;
    }
    if (!this.resumeScheduled) {
      this.resumeScheduled = true;
      process.nextTick(this.afterResume);
    }
  }

  /** Bytes received and not yet delivered in a record. */
  get pendingBytes(): number {
    return this.reader.pendingBytes;
  }

  whenClosed(fn: () => void): void {
    if (this.closed) fn();
    else this.closeWaiters.push(fn);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.reader.clear();
    this.drainWaiters = [];
    for (const fn of this.closeWaiters.splice(0)) fn();
  }

  private readonly onData = (chunk: Buffer): void => {
    this.reader.push(chunk);
    this.deliver();
  };

  /** Hands whole records to the receiver until paused, closed or out of bytes. */
  private deliver(): void {
    if (this.delivering) return;
    this.delivering = true;
    try {
      while (!this.paused && !this.closed && this.receiver !== null) {
        const record = this.reader.next();
        if (record === null) break;
        this.stats.recordsIn++;
        this.stats.bytesIn += record.length;
        this.receiver(record, this);
      }
    } finally {
      this.delivering = false;
    }
    if (this.closed) return;
    if (this.reader.corrupt) {
      this.stats.corrupt++;
      this.close();
    } else {
      this.closeIfEnded();
    }
  }

  /** After a clean end from the peer: closes unless records still wait for a paused receiver. */
  private closeIfEnded(): void {
    if (!this.peerEnded || this.delivering) return;
    if (!this.paused || this.reader.pendingBytes === 0) this.close();
  }

  private readonly afterResume = (): void => {
    this.resumeScheduled = false;
    if (this.paused || this.closed || !this.reading) return;
    this.deliver();
    if (!this.paused && !this.closed) this.socket.resume();
  };

  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  private readonly onSocketDrain = (): void => {
    if (this.closed) return;
    for (const fn of this.drainWaiters.splice(0)) fn();
  };

  // 'end' follows the last 'data'; records before it may still wait for a
  // paused receiver, so the link closes once they are delivered.
  private readonly onPeerEnd = (): void => {
    this.peerEnded = true;
    this.closeIfEnded();
  };

  /** Without an 'end' first, the connection failed: what waits is dropped. */
  private readonly onSocketClose = (): void => {
    if (this.peerEnded) this.closeIfEnded();
    else this.close();
  };
}
