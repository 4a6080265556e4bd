import type { Scheduler, TimerHandle } from '../clock/scheduler.js';
import type { StreamSocket } from '../net/stream-transport.js';

/** Why a writer gave up on its reader. */
export type WriterOverflow =
  | { readonly reason: 'queue'; readonly queuedBytes: number; readonly limit: number }
  | { readonly reason: 'stalled'; readonly queuedBytes: number; readonly stalledMs: number };

export interface BoundedWriterOptions {
  /** Bytes the socket may hold unsent (its writableLength) after a write; past it the reader is cut off. */
  maxQueuedBytes: number;
  /** With a scheduler: how long the socket may stay full (no 'drain') before the reader is cut off. */
  stallTimeoutMs?: number;
  scheduler?: Scheduler;
  /** Sees every byte handed to the socket. */
  onWrite?: (bytes: Buffer) => void;
}

/**
 * Writes to a socket whose reader may not read. A socket's write() never
 * refuses: it queues in memory, so a reader that stops reading would grow
 * the writer's memory without end. This bounds the queue: a write that would
 * leave more than `maxQueuedBytes` unsent is not made, `onOverflow` is told
 * once, and every later write is dropped (the owner closes the connection).
 */
export class BoundedWriter {
  private stallTimer: TimerHandle | null = null;
  private stalledSince = 0;
  private failed = false;
  /** The most bytes ever left queued after a write (for stats and tests). */
  peakQueuedBytes = 0;

  constructor(
    private readonly socket: StreamSocket,
    private readonly opts: BoundedWriterOptions,
    private readonly onOverflow: (o: WriterOverflow) => void,
  ) {
    socket.on('drain', this.onDrain);
  }

  /** Bytes written to the socket and not yet sent. */
  get queuedBytes(): number {
    return this.socket.writableLength;
  }

  get overflowed(): boolean {
    return this.failed;
  }

  /** Queues `bytes`; false if the writer has given up (now or earlier) and dropped them. */
  write(bytes: Buffer): boolean {
    if (this.failed || this.socket.destroyed) return false;
    const queued = this.socket.writableLength;
    if (queued + bytes.length > this.opts.maxQueuedBytes) {
      this.fail({ reason: 'queue', queuedBytes: queued, limit: this.opts.maxQueuedBytes });
      return false;
    }
    this.opts.onWrite?.(bytes);
    const roomLeft = this.socket.write(bytes);
    this.peakQueuedBytes = Math.max(this.peakQueuedBytes, this.socket.writableLength);
    if (!roomLeft) this.armStall();
    return true;
  }

  /** Stops watching the socket (it was closed, or handed to someone else). */
  dispose(): void {
    this.stallTimer?.cancel();
    this.stallTimer = null;
    this.socket.off('drain', this.onDrain);
  }

  private armStall(): void {
    const { scheduler, stallTimeoutMs } = this.opts;
    if (scheduler === undefined || stallTimeoutMs === undefined || this.stallTimer !== null) return;
    this.stalledSince = scheduler.now();
    this.stallTimer = scheduler.at(this.stalledSince + stallTimeoutMs, () => {
      this.stallTimer = null;
      if (!this.socket.writableNeedDrain) return;
      this.fail({ reason: 'stalled', queuedBytes: this.socket.writableLength, stalledMs: scheduler.now() - this.stalledSince });
    });
  }

  private fail(o: WriterOverflow): void {
    if (this.failed) return;
    this.failed = true;
    this.dispose();
    this.onOverflow(o);
  }

  private readonly onDrain = (): void => {
    this.stallTimer?.cancel();
    this.stallTimer = null;
  };
}
