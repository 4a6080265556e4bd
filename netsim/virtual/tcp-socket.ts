/**
 * One end of a virtual TCP connection: a Node Duplex that behaves like a
 * net.Socket towards burrow's code (StreamSocket), fed by a `TcpPipe` per
 * direction that delivers the bytes in order on the VirtualScheduler.
 *
 * A pipe models, per direction: a one-way delay (the path's link delays), a
 * serialisation rate (bytes leave one after another, so 16 MB takes
 * 16 MB / rate), and a window: at most `window` bytes are in flight or
 * unread by the receiving application; the receiver hands credit back one
 * reverse delay after its application took the bytes, so a reader that stops
 * reading stops the writer (bounded memory, as TCP's receive window does).
 * No segments, losses, retransmissions or congestion control.
 */
import { at } from '../../src/util/at.js';
import { Duplex } from 'node:stream';
import type { Scheduler } from '../../src/clock/scheduler.js';
import type { StreamSocket } from '../../src/net/stream-transport.js';

export interface TcpPipeParams {
  /** One-way delay, ms. */
  delayMs: number;
  /** Delay of credit (ACKs) coming back, ms. */
  reverseDelayMs: number;
  /** Bytes per ms; Infinity = no serialisation delay. */
  bytesPerMs: number;
  /** Bytes in flight or unread at the receiver before the writer must wait. */
  window: number;
  /** Largest chunk delivered at once (a TSO/GRO-sized burst). */
  segmentBytes: number;
}

/** What a pipe reports, for the connection's trace. */
export interface TcpPipeEvents {
  data(from: VirtualTcpSocket, to: VirtualTcpSocket, bytes: Buffer): void;
  control(kind: 'fin' | 'rst', from: VirtualTcpSocket, to: VirtualTcpSocket): void;
}

interface Queued {
  data: Buffer;
  offset: number;
  cb: ((err?: Error | null) => void) | null;
}

/** One direction of a connection: from `from`'s writes to `to`'s reads. */
export class TcpPipe {
  private readonly queue: Queued[] = [];
  private inFlight = 0;
  private busyUntil = 0;
  private lastArrival = 0;
  private finQueued = false;
  private finSent = false;
  private rstSent = false;
  /** Until the handshake completes, writes wait here. */
  open = false;

  constructor(
    private readonly scheduler: Scheduler,
    readonly from: VirtualTcpSocket,
    readonly to: VirtualTcpSocket,
    private readonly p: TcpPipeParams,
    private readonly events: TcpPipeEvents,
  ) {}

  get params(): TcpPipeParams {
    return this.p;
  }

  get finished(): boolean {
    return this.finSent || this.rstSent;
  }

  write(data: Buffer, cb: (err?: Error | null) => void): void {
    if (this.finished) {
      cb();
      return;
    }
    this.queue.push({ data, offset: 0, cb });
    this.pump();
  }

  /** Send FIN once everything queued has left. */
  end(): void {
    this.finQueued = true;
    this.pump();
  }

  /** Abortive close: queued bytes are dropped, the RST follows what is already on the wire. */
  reset(): void {
    if (this.rstSent) return;
    this.rstSent = true;
    for (const q of this.queue.splice(0)) q.cb?.();
    const arrival = Math.max(this.scheduler.now() + this.p.delayMs, this.lastArrival);
    this.lastArrival = arrival;
    this.scheduler.at(arrival, () => {
      this.events.control('rst', this.from, this.to);
      this.to.onPeerReset();
    });
  }

  /** The receiver's application took `n` bytes: the credit travels back. */
  credit(n: number): void {
    this.scheduler.at(this.scheduler.now() + this.p.reverseDelayMs, () => {
      this.inFlight -= n;
      this.pump();
    });
  }

  pump(): void {
    if (!this.open || this.rstSent) return;
    while (this.queue.length > 0 && this.inFlight < this.p.window) {
      const q = at(this.queue, 0);
      const n = Math.min(this.p.segmentBytes, q.data.length - q.offset, Math.max(1, this.p.window - this.inFlight));
      const seg = q.offset === 0 && n === q.data.length ? q.data : q.data.subarray(q.offset, q.offset + n);
      q.offset += n;
      this.inFlight += n;
      this.transmit(seg);
      if (q.offset >= q.data.length) {
        this.queue.shift();
        const cb = q.cb;
        q.cb = null;
        cb?.();
      }
    }
    if (this.queue.length === 0 && this.finQueued && !this.finSent) {
      this.finSent = true;
      const arrival = Math.max(Math.max(this.scheduler.now(), this.busyUntil) + this.p.delayMs, this.lastArrival);
      this.lastArrival = arrival;
      this.scheduler.at(arrival, () => {
        this.events.control('fin', this.from, this.to);
        this.to.onPeerFin();
      });
    }
  }

  private transmit(seg: Buffer): void {
    const now = this.scheduler.now();
    const start = Math.max(now, this.busyUntil);
    const departure = this.p.bytesPerMs === Infinity ? start : start + seg.length / this.p.bytesPerMs;
    this.busyUntil = departure;
    const arrival = Math.max(departure + this.p.delayMs, this.lastArrival);
    this.lastArrival = arrival;
    // Bytes already on the wire arrive even if a reset follows them.
    this.scheduler.at(arrival, () => {
      this.events.data(this.from, this.to, seg);
      this.to.onPeerData(seg, this);
    });
  }
}

/** Node's error shape for socket failures (err.code is what callers branch on). */
export function socketError(code: 'ECONNRESET' | 'ECONNREFUSED' | 'ETIMEDOUT' | 'ENETUNREACH', syscall: string, where: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${syscall} ${code} ${where}`);
  err.code = code;
  err.syscall = syscall;
  return err;
}

export interface SocketEnds {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

/**
 * A net.Socket look-alike. Reading, writing, half-close (allowHalfOpen),
 * pause/resume and back-pressure are Node's own Duplex machinery; what
 * crosses the virtual network goes through the two pipes.
 */
export class VirtualTcpSocket extends Duplex implements StreamSocket {
  /** Writes go here once connected (set by the connection). */
  out: TcpPipe | null = null;
  /** The pipe that feeds this socket (for credit). */
  in: TcpPipe | null = null;
  private heldCredit = 0;
  /** Writes (and an end) made before the connection exists, as net.Socket queues them. */
  private early: Array<{ chunk: Buffer; cb: (err?: Error | null) => void }> = [];
  private earlyEnd = false;
  private resetting = false;
  private resetByPeer = false;
  private answeredWithRst = false;
  connecting = false;
  private ends: SocketEnds | null = null;
  /** Called once when the socket is destroyed (the transport forgets it). */
  onGone: (() => void) | null = null;

  constructor(opts: { allowHalfOpen: boolean }) {
    super({ allowHalfOpen: opts.allowHalfOpen, highWaterMark: 64 * 1024, emitClose: false, decodeStrings: true });
  }

  get remoteAddress(): string | undefined {
    return this.destroyed ? undefined : this.ends?.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.destroyed ? undefined : this.ends?.remotePort;
  }
  get localAddress(): string | undefined {
    return this.ends?.localAddress;
  }
  get localPort(): number | undefined {
    return this.ends?.localPort;
  }

  /** @internal */
  setEnds(ends: SocketEnds): void {
    this.ends = ends;
  }

  setNoDelay(_noDelay?: boolean): this {
    return this;
  }

  setKeepAlive(_enable?: boolean, _delay?: number): this {
    return this;
  }

  resetAndDestroy(): this {
    if (this.destroyed) return this;
    this.resetting = true;
    this.out?.reset();
    return this.destroy();
  }

  /** @internal The connection is established: writes may flow. */
  established(): void {
    this.connecting = false;
    const out = this.out;
    if (out !== null) {
      out.open = true;
      for (const w of this.early.splice(0)) out.write(w.chunk, w.cb);
      if (this.earlyEnd) out.end();
      out.pump();
    }
    this.emit('connect');
    this.emit('ready');
  }

  /** @internal The connection attempt failed. */
  failConnect(err: NodeJS.ErrnoException): void {
    this.connecting = false;
    this.destroy(err);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.out === null) {
      if (this.connecting) this.early.push({ chunk, cb });
      else cb();
      return;
    }
    this.out.write(chunk, cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    // A corked burst leaves as one piece, as the kernel would coalesce it.
    this._write(chunks.length === 1 ? at(chunks, 0).chunk : Buffer.concat(chunks.map((c) => c.chunk)), 'binary', cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.out === null && this.connecting) this.earlyEnd = true;
    this.out?.end();
    cb();
  }

  override _read(): void {
    if (this.heldCredit > 0 && this.in !== null) {
      const n = this.heldCredit;
      this.heldCredit = 0;
      this.in.credit(n);
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const out = this.out;
    if (out !== null && !this.resetting && !this.resetByPeer && !out.finished) {
      // Closing with unread data makes Linux send a reset instead of a FIN.
      if (this.readableLength > 0 || this.heldCredit > 0) out.reset();
      else out.end();
    }
    this.heldCredit = 0;
    this.early = [];
    const hadError = err !== null;
    cb(err);
    // After Node's own 'error' (queued by cb), like net.Socket's close(hadError).
    process.nextTick(() => this.emit('close', hadError));
    this.onGone?.();
    this.onGone = null;
  }

  /** @internal Bytes arrived from the peer. */
  onPeerData(seg: Buffer, pipe: TcpPipe): void {
    if (this.destroyed || this.readableEnded) {
      // Data for a closed socket: the kernel answers with a reset.
      if (!this.answeredWithRst) {
        this.answeredWithRst = true;
        this.out?.reset();
      }
      return;
    }
    if (this.push(seg)) pipe.credit(seg.length);
    else this.heldCredit += seg.length;
  }

  /** @internal The peer sent FIN. */
  onPeerFin(): void {
    if (this.destroyed || this.readableEnded) return;
    this.push(null);
  }

  /** @internal The peer sent RST. */
  onPeerReset(): void {
    if (this.destroyed) return;
    this.resetByPeer = true;
    const e = this.ends;
    this.destroy(socketError('ECONNRESET', 'read', e ? `${e.remoteAddress}:${e.remotePort}` : ''));
  }
}
