/**
 * MuxSession: many streams over one reliable, ordered byte stream.
 *
 * Shape of the state machine:
 * - Inbound: receive() -> FrameDecoder -> handleFrame(). Every peer mistake
 *   becomes protocolError() (session closed with ERR_MUX_PROTOCOL); nothing
 *   the peer sends can make receive() throw.
 * - Outbound: nothing is written "directly". State changes mark a stream
 *   ready (or queue a control frame) and flush() drains, in priority order:
 *   session control (PING/PONG/GO_AWAY), RSTs, then ready streams round-robin,
 *   one frame per turn, so a bulk stream cannot starve the others. flush()
 *   stops as soon as the transport says false and resumes on notifyDrain().
 * - Memory: the mux holds at most one application chunk per stream (by
 *   reference, for the write in progress), at most one window of received
 *   data per stream, and bounded control queues. Write callbacks fire only
 *   once the bytes were handed to the transport, which is what propagates
 *   back-pressure to the application.
 */
import { EventEmitter } from 'node:events';
import { BurrowError, type BurrowErrorCode } from '../errors.js';
import { ControlQueue, type QueuedControl } from './control-queue.js';
import { Fifo } from '../util/fifo.js';
import { encodeControl, encodeData, FrameDecoder, type Frame, type FrameError } from './frame.js';
import { Keepalive } from './keepalive.js';
import { resolveMuxOptions, type MuxOptions, type ResolvedMuxOptions } from './options.js';
import { PingTracker } from './ping-tracker.js';
import { Flag, FrameType, GoAwayCode, MAX_U32, ResetReason } from './protocol.js';
import { ReadyRing } from './ready-ring.js';
import type { MuxStream, WriteCallback } from './stream.js';
import { StreamState, type StreamHooks } from './stream-state.js';

export interface MuxTransport {
  /**
   * Writes mux bytes into the reliable stream. Returns false when the
   * transport wants the mux to stop writing until MuxSession.notifyDrain()
   * is called (bytes passed in the false-returning call ARE accepted).
   * Each call carries whole frames in a buffer the mux never touches again,
   * so the transport may keep it without copying.
   */
  write(bytes: Uint8Array): boolean;
}

export interface MuxStats {
  framesIn: number;
  framesOut: number;
  /** Raw mux bytes received / written (headers included). */
  bytesIn: number;
  bytesOut: number;
  /** DATA payload bytes only. */
  dataBytesIn: number;
  dataBytesOut: number;
  protocolErrors: number;
  /** Streams we opened / the peer opened and we accepted / the peer opened and we refused. */
  streamsOpened: number;
  streamsAccepted: number;
  streamsRefused: number;
  resetsSent: number;
  resetsReceived: number;
  /** PINGs we sent (ping() and keepalive) / PINGs of the peer we answered. */
  pingsSent: number;
  pongsSent: number;
}

/** Outstanding ping() calls; more is a caller bug, refused rather than queued. */
const MAX_PINGS = 256;
/** ping() timeout when keepaliveTimeoutMs is 0. */
const DEFAULT_PING_TIMEOUT_MS = 30_000;
/** Keepalive pings carry opaque 0; ping() uses 1..2^32-1. */
const KEEPALIVE_OPAQUE = 0;

export interface MuxSession {
  on(event: 'stream', listener: (stream: MuxStream) => void): this;
  on(event: 'close', listener: (err?: BurrowError) => void): this;
  on(event: 'goaway', listener: (code: number) => void): this;
  /** Received bytes waiting for readers fell below half of `receiveBudget` after exceeding it. */
  on(event: 'receive-room', listener: () => void): this;
  once(event: 'stream', listener: (stream: MuxStream) => void): this;
  once(event: 'close', listener: (err?: BurrowError) => void): this;
  once(event: 'goaway', listener: (code: number) => void): this;
}

export class MuxSession extends EventEmitter {
  private bufferedTotal = 0;
  private receiveBudget = Infinity;
  private overBudget = false;
  private readonly transport: MuxTransport;
  private readonly opts: ResolvedMuxOptions;
  private readonly counters: MuxStats = {
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    dataBytesIn: 0,
    dataBytesOut: 0,
    protocolErrors: 0,
    streamsOpened: 0,
    streamsAccepted: 0,
    streamsRefused: 0,
    resetsSent: 0,
    resetsReceived: 0,
    pingsSent: 0,
    pongsSent: 0,
  };
  private readonly decoder: FrameDecoder;
  private readonly streams = new Map<number, StreamState>();
  private readonly ready = new ReadyRing<StreamState>();
  private readonly control: ControlQueue;
  private readonly pings: PingTracker;
  private readonly keepalive: Keepalive | null;
  /** What each MuxStream's Duplex hooks call; kept off the public surface. */
  private readonly hooks: StreamHooks = {
    onWrite: (st, chunk, cb) => this.onWrite(st, chunk, cb),
    onFinal: (st, cb) => this.onFinal(st, cb),
    onRead: (st) => this.onRead(st),
    onDestroy: (st, err) => this.onDestroy(st, err),
  };
  /** Grant window credit in batches of at least this much (half a window). */
  private readonly grantThreshold: number;

  private nextLocalId: number;
  /** Highest stream id the peer opened: its SYNs must increase. */
  private lastPeerId = 0;
  private keepaliveQueued = false;
  private blocked = false;
  private flushing = false;
  private flushScheduled = false;
  private receiving = false;
  /** Frames decoded by a re-entrant receive() (see receive()). */
  private readonly inbound = new Fifo<Frame>();
  private decodeError: FrameError | null = null;
  private localGoAway = false;
  private remoteGoAway = false;
  private isClosed = false;

  constructor(transport: MuxTransport, opts: MuxOptions) {
    super();
    this.transport = transport;
    this.opts = resolveMuxOptions(opts);
    this.decoder = new FrameDecoder(this.opts.maxFramePayload);
    this.nextLocalId = this.opts.role === 'initiator' ? 1 : 2;
    this.grantThreshold = Math.max(1, Math.floor(this.opts.initialWindow / 2));
    // Queued RSTs are bounded by the streams that can exist plus slack for
    // stray-DATA answers; beyond that the peer floods SYNs while we can't write.
    this.control = new ControlQueue(this.opts.maxStreams + 1024);
    const { keepaliveIntervalMs, keepaliveTimeoutMs } = this.opts;
    this.pings = new PingTracker(MAX_PINGS, this.opts.scheduler);
    this.keepalive =
      keepaliveIntervalMs > 0 || keepaliveTimeoutMs > 0
        ? new Keepalive(keepaliveIntervalMs, keepaliveTimeoutMs, {
            sendPing: () => this.sendKeepalive(),
            timedOut: (ms) =>
              this.close(new BurrowError('ERR_MUX_TIMEOUT', `mux peer silent for ${ms} ms (keepalive timeout)`)),
          }, this.opts.scheduler)
        : null;
  }

  get stats(): Readonly<MuxStats> {
    return this.counters;
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /**
   * Bytes received for all streams and not yet taken by their readers. Each
   * stream's share is bounded by its window; the owner of the byte stream
   * bounds the total by not feeding receive() while this is over its budget.
   */
  get receiveBuffered(): number {
    return this.bufferedTotal;
  }

  /**
   * Lets the owner pause feeding at `budget` bytes: after the total went over
   * it, 'receive-room' is emitted once it falls under half of it.
   */
  watchReceiveBudget(budget: number): void {
    this.receiveBudget = budget;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  // ------------------------------------------------------------------ API

  /**
   * Opens a stream at once. Its SYN rides on the first frame the stream
   * sends; if the application writes nothing in the current tick, a bare
   * SYN goes out anyway so the peer sees the stream (server-speaks-first).
   */
  openStream(): MuxStream {
    if (this.isClosed) throw new BurrowError('ERR_MUX_CLOSED', 'mux session is closed');
    if (this.localGoAway || this.remoteGoAway) {
      throw new BurrowError('ERR_MUX_GOAWAY', `mux session is going away (${this.remoteGoAway ? 'peer' : 'local'} GO_AWAY)`);
    }
    if (this.streams.size >= this.opts.maxStreams) {
      throw new BurrowError('ERR_MUX_TOO_MANY_STREAMS', `mux session has ${this.streams.size} open streams (maxStreams)`);
    }
    if (this.nextLocalId > MAX_U32) {
      throw new BurrowError('ERR_MUX_TOO_MANY_STREAMS', 'mux stream ids exhausted');
    }
    const st = new StreamState(this.nextLocalId, this.hooks);
    this.nextLocalId += 2;
    st.synPending = true;
    this.streams.set(st.id, st);
    this.counters.streamsOpened++;
    this.ready.push(st);
    this.scheduleFlush();
    return st.stream;
  }

  /**
   * Bytes from the reliable stream, split anywhere. Never throws on what the
   * peer sent: a protocol error closes the session with ERR_MUX_PROTOCOL.
   * Zero copy: payloads may stay views of `bytes`, so the caller must not
   * modify or reuse `bytes` after the call (KCP's recv() output qualifies).
   */
  receive(bytes: Uint8Array): void {
    if (this.isClosed || bytes.byteLength === 0) return;
    this.counters.bytesIn += bytes.byteLength;
    const { frames, error } = this.decoder.push(bytes);
    if (frames.length > 0) this.keepalive?.touch();
    if (error !== null) this.decodeError = error;
    if (this.receiving) {
      // Re-entered (a synchronous transport looped our own write back into
      // us while a frame handler ran): queue, so frames keep wire order.
      for (const f of frames) this.inbound.push(f);
      return;
    }
    this.receiving = true;
    try {
      for (const f of frames) {
        if (this.isClosed) break;
        this.handleFrame(f);
      }
      for (let f = this.inbound.shift(); f !== undefined && !this.isClosed; f = this.inbound.shift()) {
        this.handleFrame(f);
      }
      if (this.decodeError !== null && !this.isClosed) {
        this.protocolError(`malformed frame (${this.decodeError.kind}): ${this.decodeError.message}`);
      }
    } catch (err) {
      // Only application code (a 'stream'/'data' listener) can throw here.
      // Frames after it would be skipped, so the session is no longer sound.
      this.close(new BurrowError('ERR_MUX_CLOSED', 'a listener threw while the mux handled received frames', { cause: err }));
      throw err;
    } finally {
      this.receiving = false;
    }
    this.flush();
  }

  notifyDrain(): void {
    if (this.isClosed) return;
    this.blocked = false;
    this.flush();
  }

  /** No new streams either way from now on; existing ones run to completion. */
  goAway(): void {
    if (this.isClosed || this.localGoAway) return;
    this.localGoAway = true;
    this.control.pushGoAway(GoAwayCode.Normal);
    this.flush();
  }

  /** Round-trip time in ms. Rejects with ERR_MUX_TIMEOUT, or ERR_MUX_CLOSED if the session closes first. */
  ping(timeoutMs?: number): Promise<number> {
    if (this.isClosed) return Promise.reject(new BurrowError('ERR_MUX_CLOSED', 'mux session is closed'));
    const timeout = timeoutMs ?? (this.opts.keepaliveTimeoutMs > 0 ? this.opts.keepaliveTimeoutMs : DEFAULT_PING_TIMEOUT_MS);
    return this.pings.start(timeout, (id) => {
      this.control.pushPing(id);
      this.flush();
    });
  }

  /**
   * Tears everything down: every open stream is destroyed with `err` (with
   * no error when `err` is undefined: such streams emit 'close' without
   * 'end', which finished()/pipeline() report as a premature close; their
   * pending write callbacks fail with ERR_MUX_CLOSED). Pending pings reject,
   * timers stop, queues empty. Emits 'close' once. Sends nothing: closing
   * the transport is the owner's job.
   */
  close(err?: BurrowError): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.keepalive?.stop();
    this.pings.rejectAll(err ?? new BurrowError('ERR_MUX_CLOSED', 'mux session closed'));
    this.control.clear();
    this.inbound.clear();
    this.ready.clear();
    const open = [...this.streams.values()];
    this.streams.clear();
    this.bufferedTotal = 0;
    for (const st of open) {
      st.forgotten = true;
      // A stream the application never received has nobody listening for
      // its 'error': end it quietly instead of crashing the process.
      st.stream.destroy(st.announced || this.isLocalId(st.id) ? err : undefined);
    }
    this.emit('close', err);
  }

  // --------------------------------------------------------------- inbound

  private handleFrame(f: Frame): void {
    this.counters.framesIn++;
    switch (f.type) {
      case FrameType.Data:
        this.counters.dataBytesIn += f.payload.byteLength;
        this.handleStreamFrame(f.streamId, f.flags, f.payload, 0);
        return;
      case FrameType.WindowUpdate:
        this.handleStreamFrame(f.streamId, f.flags, null, f.value);
        return;
      case FrameType.Ping:
        this.handlePing(f.streamId, f.flags, f.value);
        return;
      case FrameType.GoAway:
        this.handleGoAway(f.streamId, f.value);
        return;
    }
  }

  /** DATA (payload !== null) or WINDOW_UPDATE (value = delta, or reset reason with RST). */
  private handleStreamFrame(id: number, flags: number, payload: Uint8Array | null, value: number): void {
    if (id === 0) return this.protocolError(`${payload ? 'DATA' : 'WINDOW_UPDATE'} frame on stream 0`);
    let st = this.streams.get(id);
    let accepted = false;
    if ((flags & Flag.SYN) !== 0) {
      if (st !== undefined || this.isLocalId(id) || id <= this.lastPeerId) {
        return this.protocolError(`SYN for stream ${id}, which is not a new peer stream id (last ${this.lastPeerId})`);
      }
      this.lastPeerId = id;
      if ((flags & Flag.RST) !== 0) return; // opened and aborted in one frame
      if (this.localGoAway || this.remoteGoAway) return this.refuse(id, ResetReason.RefusedGoAway);
      if (this.streams.size >= this.opts.maxStreams) return this.refuse(id, ResetReason.RefusedTooManyStreams);
      st = this.accept(id);
      accepted = true;
    }
    if (st === undefined) {
      // A stream we reset or finished, or never had. WINDOW_UPDATEs are
      // normal stragglers (the peer consumes after our FIN); stray DATA gets
      // an RST so the peer stops sending.
      if (payload !== null && (flags & Flag.RST) === 0) this.queueReset(id, ResetReason.Reset);
      return;
    }
    if ((flags & Flag.RST) !== 0) return this.remoteReset(st, payload === null ? value : ResetReason.Reset);

    if (payload !== null) {
      if (st.remoteFin) return this.protocolError(`DATA on stream ${id} after its FIN`);
      const n = payload.byteLength;
      if (n > st.recvCredit) {
        return this.protocolError(`stream ${id}: peer sent ${n} bytes with only ${st.recvCredit} bytes of window`);
      }
      st.recvCredit -= n;
      if (n > 0) this.deliver(st, payload);
    } else if (value > 0) {
      st.sendWindow += value;
      if (st.sendWindow > MAX_U32) return this.protocolError(`stream ${id}: window grown past 2^32-1`);
      this.markReady(st);
    }
    if ((flags & Flag.FIN) !== 0) {
      if (st.remoteFin) return this.protocolError(`second FIN on stream ${id}`);
      this.remoteFinished(st);
    }
    if (accepted && !st.destroyed) {
      st.announced = true;
      this.emit('stream', st.stream);
    }
  }

  private accept(id: number): StreamState {
    const st = new StreamState(id, this.hooks);
    st.peerKnows = true;
    st.ackPending = true;
    this.streams.set(id, st);
    this.counters.streamsAccepted++;
    this.markReady(st); // a window larger than the initial one is granted at once
    return st;
  }

  private refuse(id: number, reason: number): void {
    this.counters.streamsRefused++;
    this.queueReset(id, reason);
  }

  private deliver(st: StreamState, payload: Uint8Array): void {
    if (st.destroyed) return;
    if (st.wantsData) {
      // The consumer is waiting and our queue is empty: hand it over now.
      // Consumed on arrival, so the credit is grantable straight away.
      st.wantsData = st.stream.push(payload);
      this.markReady(st);
    } else {
      st.recvQueue.push(payload);
      st.recvBuffered += payload.byteLength;
      this.bufferedTotal += payload.byteLength;
      if (this.bufferedTotal > this.receiveBudget) this.overBudget = true;
    }
  }

  private receiveTaken(bytes: number): void {
    this.bufferedTotal -= bytes;
    if (this.overBudget && this.bufferedTotal <= this.receiveBudget / 2) {
      this.overBudget = false;
      this.emit('receive-room');
    }
  }

  private remoteFinished(st: StreamState): void {
    st.remoteFin = true;
    if (st.recvQueue.empty && !st.endPushed && !st.destroyed) {
      st.endPushed = true;
      st.stream.push(null);
    }
    if (st.finSent) this.forget(st);
  }

  private remoteReset(st: StreamState, reason: number): void {
    this.counters.resetsReceived++;
    this.forget(st);
    let code: BurrowErrorCode = 'ERR_STREAM_RESET';
    let why = 'reset by peer';
    if (reason === ResetReason.RefusedTooManyStreams) {
      code = 'ERR_MUX_TOO_MANY_STREAMS';
      why = 'refused by peer: too many open streams';
    } else if (reason === ResetReason.RefusedGoAway) {
      code = 'ERR_MUX_GOAWAY';
      why = 'refused by peer: session going away';
    }
    st.stream.destroy(new BurrowError(code, `mux stream ${st.id} ${why}`));
  }

  private handlePing(id: number, flags: number, opaque: number): void {
    if (id !== 0) return this.protocolError(`PING on stream ${id}`);
    const syn = (flags & Flag.SYN) !== 0;
    const ack = (flags & Flag.ACK) !== 0;
    if (syn === ack) return this.protocolError(`PING with flags 0x${flags.toString(16)} (need exactly one of SYN, ACK)`);
    if (syn) this.control.pushPong(opaque); // dropped if flooded while blocked
    else this.pings.answer(opaque);
  }

  private handleGoAway(id: number, code: number): void {
    if (id !== 0) return this.protocolError(`GO_AWAY on stream ${id}`);
    if (this.remoteGoAway) return;
    this.remoteGoAway = true;
    this.emit('goaway', code);
  }

  private protocolError(message: string): void {
    this.counters.protocolErrors++;
    // Best effort, so the peer's logs say why; skipped when we must not write.
    if (!this.blocked) this.writeOut(encodeControl(FrameType.GoAway, 0, 0, GoAwayCode.ProtocolError));
    this.close(new BurrowError('ERR_MUX_PROTOCOL', `mux protocol error: ${message}`));
  }

  // ------------------------------------------------------- stream hooks

  /** StreamHooks: a MuxStream's _write. */
  private onWrite(st: StreamState, chunk: Buffer, cb: WriteCallback): void {
    if (this.isClosed || st.forgotten) {
      cb(new BurrowError('ERR_MUX_CLOSED', `mux stream ${st.id} is closed`));
      return;
    }
    if (chunk.byteLength === 0) {
      cb();
      return;
    }
    st.chunk = chunk;
    st.chunkOffset = 0;
    st.chunkCb = cb;
    this.markReady(st);
    this.flush();
  }

  /** StreamHooks: a MuxStream's _final. */
  private onFinal(st: StreamState, cb: WriteCallback): void {
    if (this.isClosed || st.forgotten) {
      cb(new BurrowError('ERR_MUX_CLOSED', `mux stream ${st.id} is closed`));
      return;
    }
    st.finPending = true;
    st.finCb = cb;
    this.markReady(st);
    this.flush();
  }

  /** StreamHooks: a MuxStream's _read. Consumption is what earns the peer new credit. */
  private onRead(st: StreamState): void {
    if (st.destroyed) return;
    st.wantsData = true;
    while (st.wantsData) {
      const c = st.recvQueue.shift();
      if (c === undefined) break;
      st.recvBuffered -= c.byteLength;
      this.receiveTaken(c.byteLength);
      st.wantsData = st.stream.push(c);
    }
    if (st.remoteFin && st.recvQueue.empty && !st.endPushed && !st.destroyed) {
      st.endPushed = true;
      st.stream.push(null);
    }
    if (!st.queued && this.hasWork(st)) {
      this.markReady(st);
      this.flush();
    }
  }

  /** StreamHooks: a MuxStream's _destroy. Any destroy before both FINs crossed is an abort: RST. */
  private onDestroy(st: StreamState, err: Error | null): void {
    if (st.destroyed) return;
    st.destroyed = true;
    const failure =
      err ??
      (this.isClosed
        ? new BurrowError('ERR_MUX_CLOSED', `mux session closed before stream ${st.id} finished writing`)
        : new BurrowError('ERR_STREAM_RESET', `mux stream ${st.id} destroyed before it finished writing`));
    const writeCb = st.chunkCb;
    const finCb = st.finCb;
    st.chunk = null;
    st.chunkCb = null;
    st.finCb = null;
    st.finPending = false;
    st.recvQueue.clear();
    this.receiveTaken(st.recvBuffered);
    st.recvBuffered = 0;
    st.wantsData = false;
    if (!st.forgotten) {
      const needsReset = st.peerKnows && !this.isClosed;
      this.forget(st);
      if (needsReset) {
        this.queueReset(st.id, ResetReason.Reset);
        this.flush();
      }
    }
    writeCb?.(failure);
    finCb?.(failure);
  }

  // --------------------------------------------------------------- outbound

  private isLocalId(id: number): boolean {
    return (id & 1) === (this.opts.role === 'initiator' ? 1 : 0);
  }

  private forget(st: StreamState): void {
    if (st.forgotten) return;
    st.forgotten = true;
    this.streams.delete(st.id);
    this.ready.remove(st);
  }

  private queueReset(id: number, reason: number): void {
    if (!this.control.pushReset(id, reason)) {
      this.close(
        new BurrowError('ERR_MUX_TOO_MANY_STREAMS', 'peer opens streams faster than they can be refused while the transport is blocked'),
      );
    }
  }

  private sendKeepalive(): void {
    if (this.isClosed || this.keepaliveQueued) return; // one is still waiting for the transport
    this.keepaliveQueued = true;
    this.control.pushPing(KEEPALIVE_OPAQUE, 'keepalive');
    this.flush();
  }

  private grantDue(st: StreamState): number {
    return st.grantable(this.opts.initialWindow, this.grantThreshold);
  }

  private hasWork(st: StreamState): boolean {
    return st.hasWork(this.opts.initialWindow, this.grantThreshold);
  }

  private markReady(st: StreamState): void {
    if (!st.queued && this.hasWork(st)) this.ready.push(st);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /**
   * Drains pending output until the transport pushes back. Re-entrant calls
   * (a write callback or a synchronous transport causing more work) return
   * at once; the running loop re-checks every queue before each frame, so
   * the work they queued is still picked up.
   */
  private flush(): void {
    if (this.flushing || this.isClosed) return;
    this.flushing = true;
    try {
      while (!this.blocked && !this.isClosed) {
        const c = this.control.shift();
        if (c !== undefined) {
          this.writeControl(c);
          continue;
        }
        const st = this.ready.shift();
        if (st === undefined) break;
        if (!this.hasWork(st)) continue;
        this.emitOne(st);
        this.markReady(st); // back of the line: round-robin
      }
    } finally {
      this.flushing = false;
    }
  }

  private writeControl(c: QueuedControl): void {
    switch (c.kind) {
      case 'pong':
        this.counters.pongsSent++;
        break;
      case 'keepalive':
        this.keepaliveQueued = false; // the next keepalive may be queued now
        this.counters.pingsSent++;
        break;
      case 'ping':
        this.counters.pingsSent++;
        break;
      case 'reset':
        this.counters.resetsSent++;
        break;
      case 'goaway':
        break;
    }
    this.writeOut(c.frame);
  }

  /** Emits exactly one frame for a stream that hasWork(). State is updated before the write, callbacks after. */
  private emitOne(st: StreamState): void {
    let flags = 0;
    if (st.synPending) {
      flags |= Flag.SYN;
      st.synPending = false;
      st.peerKnows = true;
    }
    if (st.ackPending) {
      flags |= Flag.ACK;
      st.ackPending = false;
    }
    const finNow = st.finPending && st.chunk === null;
    const grant = this.grantDue(st);
    if (grant > 0) {
      st.recvCredit += grant;
      const finCb = finNow ? this.takeFin(st) : null;
      this.writeOut(encodeControl(FrameType.WindowUpdate, finNow ? flags | Flag.FIN : flags, st.id, grant));
      finCb?.();
      return;
    }
    if (st.chunk !== null && st.sendWindow > 0) {
      const chunk = st.chunk;
      const off = st.chunkOffset;
      const n = Math.min(chunk.byteLength - off, st.sendWindow, this.opts.maxFramePayload);
      st.sendWindow -= n;
      st.chunkOffset = off + n;
      let cb: WriteCallback | null = null;
      if (st.chunkOffset === chunk.byteLength) {
        cb = st.chunkCb;
        st.chunk = null;
        st.chunkCb = null;
        st.chunkOffset = 0;
      }
      this.counters.dataBytesOut += n;
      this.writeOut(encodeData(flags, st.id, chunk.subarray(off, off + n)));
      cb?.();
      return;
    }
    if (finNow) {
      const finCb = this.takeFin(st);
      this.writeOut(encodeControl(FrameType.WindowUpdate, flags | Flag.FIN, st.id, 0));
      finCb?.();
      return;
    }
    if (flags !== 0) this.writeOut(encodeControl(FrameType.WindowUpdate, flags, st.id, 0));
  }

  /** Marks our FIN as sent (the caller writes it next) and returns _final's callback. */
  private takeFin(st: StreamState): WriteCallback | null {
    const cb = st.finCb;
    st.finPending = false;
    st.finCb = null;
    st.finSent = true;
    if (st.remoteFin) this.forget(st); // both directions done
    return cb;
  }

  private writeOut(frame: Buffer): void {
    this.counters.framesOut++;
    this.counters.bytesOut += frame.byteLength;
    let ok: boolean;
    try {
      ok = this.transport.write(frame);
    } catch (err) {
      this.close(new BurrowError('ERR_MUX_CLOSED', 'mux transport write failed', { cause: err }));
      return;
    }
    if (!ok) this.blocked = true;
  }
}
