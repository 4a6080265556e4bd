/**
 * Per-stream protocol state, owned by the session. Plain fields rather than
 * accessors: the session's hot paths read and write them directly. It also
 * implements StreamController by forwarding to the session's hooks, so the
 * Duplex never sees session internals.
 */
import { INITIAL_STREAM_WINDOW } from './protocol.js';
import type { ReadyLink } from './ready-ring.js';
import { RecvQueue } from './recv-queue.js';
import { MuxStream, type StreamController, type WriteCallback } from './stream.js';

export interface StreamHooks {
  onWrite(st: StreamState, chunk: Buffer, cb: WriteCallback): void;
  onFinal(st: StreamState, cb: WriteCallback): void;
  onRead(st: StreamState): void;
  onDestroy(st: StreamState, err: Error | null): void;
}

export class StreamState implements StreamController, ReadyLink<StreamState> {
  readonly id: number;
  readonly stream: MuxStream;
  private readonly hooks: StreamHooks;

  // --- lifecycle ---
  /** The peer has state for this stream (we sent its SYN, or we accepted it): destroying it needs an RST. */
  peerKnows = false;
  /** Our SYN has not gone out yet; it rides on the stream's first frame. */
  synPending = false;
  /** We accepted the stream; ACK rides on our first frame for it (informational). */
  ackPending = false;
  /** _final was called; FIN goes out once no data is pending. */
  finPending = false;
  finCb: WriteCallback | null = null;
  finSent = false;
  remoteFin = false;
  /** Pushed EOF into the Readable. */
  endPushed = false;
  /** Removed from the session's map: no more frames, grants or RSTs for it. */
  forgotten = false;
  destroyed = false;

  // --- ready ring membership ---
  queued = false;
  prevReady: StreamState | null = null;
  nextReady: StreamState | null = null;

  // --- send side ---
  /** Bytes the peer has allowed us to send and we have not sent yet. */
  sendWindow = INITIAL_STREAM_WINDOW;
  /** The one application chunk being written (Writable serialises _write calls). Not a copy. */
  chunk: Buffer | null = null;
  chunkOffset = 0;
  chunkCb: WriteCallback | null = null;

  // --- receive side ---
  /** Bytes the peer may still send us (granted, not yet received). */
  recvCredit = INITIAL_STREAM_WINDOW;
  /** Bytes received and queued, not yet pushed to the consumer. */
  /** The session emitted 'stream' for it: the application can see its errors. */
  announced = false;
  recvBuffered = 0;
  readonly recvQueue = new RecvQueue();
  /** _read asked for data and push() has not returned false since. Invariant: true => recvQueue empty. */
  wantsData = false;

  constructor(id: number, hooks: StreamHooks) {
    this.id = id;
    this.hooks = hooks;
    this.stream = new MuxStream(id, this);
  }

  /**
   * Window credit we could grant now: what keeps (credit + buffered) at the
   * window, but only in batches of at least `threshold` (a frame per chunk
   * would be wasteful), and none once the peer has finished sending.
   */
  grantable(window: number, threshold: number): number {
    if (this.remoteFin || this.forgotten) return 0;
    const available = window - this.recvCredit - this.recvBuffered;
    return available >= threshold ? available : 0;
  }

  /** Whether the session has a frame to send for this stream right now. */
  hasWork(window: number, threshold: number): boolean {
    if (this.forgotten) return false;
    if (this.synPending) return true;
    if (this.chunk !== null) {
      if (this.sendWindow > 0) return true;
    } else if (this.finPending) {
      return true;
    }
    return this.grantable(window, threshold) > 0;
  }

  get bufferedReceive(): number {
    return this.recvBuffered;
  }

  write(chunk: Buffer, cb: WriteCallback): void {
    this.hooks.onWrite(this, chunk, cb);
  }

  final(cb: WriteCallback): void {
    this.hooks.onFinal(this, cb);
  }

  read(): void {
    this.hooks.onRead(this);
  }

  destroy(err: Error | null): void {
    this.hooks.onDestroy(this, err);
  }
}
