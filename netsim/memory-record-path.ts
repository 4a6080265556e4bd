import type { Scheduler } from '../src/clock/scheduler.js';
import type { RecordPath, RecordReceiver } from '../src/path/record-path.js';

export interface RecordLinkProfile {
  /** One-way delay. */
  delayMs?: number;
  /** Serialisation rate; 0 or absent = infinite. */
  bytesPerSec?: number;
  /** send() returns false once this many bytes are queued or in flight. Default 1 MiB. */
  markBytes?: number;
}

/**
 * A record path over a fake clock, as a relay link behaves: reliable, in
 * order, rate-limited, never dropping, with back-pressure once too much is
 * queued. Two ends made by `memoryRecordLink`.
 */
export class MemoryRecordPath implements RecordPath {
  readonly kind = 'relay' as const;
  readonly carries = 'records' as const;
  readonly maxRecord = 256 * 1024 + 64;
  peer: MemoryRecordPath | null = null;
  /** Records sent. */
  sent = 0;
  private receiver: RecordReceiver | null = null;
  private closed = false;
  private paused = false;
  private readonly held: Buffer[] = [];
  private queued = 0;
  private busyUntil = 0;
  private drainWaiters: Array<() => void> = [];
  private readonly closeWaiters: Array<() => void> = [];

  constructor(
    private readonly scheduler: Scheduler,
    readonly label: string,
    private readonly profile: RecordLinkProfile,
  ) {}

  bind(receiver: RecordReceiver): this {
    this.receiver = receiver;
    return this;
  }

  send(record: Uint8Array): boolean {
    const peer = this.peer;
    if (this.closed || peer === null) return true;
    const copy = Buffer.from(record);
    this.sent++;
    this.queued += copy.length;
    const now = this.scheduler.now();
    const rate = this.profile.bytesPerSec ?? 0;
    const start = Math.max(now, this.busyUntil);
    this.busyUntil = rate > 0 ? start + (copy.length * 1000) / rate : start;
    this.scheduler.at(this.busyUntil + (this.profile.delayMs ?? 0), () => {
      this.queued -= copy.length;
      if (this.queued < this.mark && this.drainWaiters.length > 0) {
        const waiters = this.drainWaiters;
        this.drainWaiters = [];
        for (const fn of waiters) fn();
      }
      peer.arrive(copy);
    });
    return this.queued < this.mark;
  }

  onDrain(fn: () => void): void {
    if (this.queued < this.mark) fn();
    else this.drainWaiters.push(fn);
  }

  pauseReading(): void {
    this.paused = true;
  }

  resumeReading(): void {
    this.paused = false;
    while (!this.paused && !this.closed && this.held.length > 0) {
      const r = this.held.shift();
      if (r !== undefined) this.receiver?.(r, this);
    }
  }

  whenClosed(fn: () => void): void {
    if (this.closed) fn();
    else this.closeWaiters.push(fn);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Closes both ends, as a TCP connection that breaks. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.held.length = 0;
    for (const fn of this.closeWaiters.splice(0)) fn();
    this.peer?.close();
  }

  private get mark(): number {
    return this.profile.markBytes ?? 1024 * 1024;
  }

  private arrive(record: Buffer): void {
    if (this.closed) return;
    if (this.paused || this.held.length > 0) this.held.push(record);
    else this.receiver?.(record, this);
  }
}

/** Two joined ends of an in-order record link. */
export function memoryRecordLink(
  scheduler: Scheduler,
  profile: RecordLinkProfile,
  labels: [string, string] = ['relay a', 'relay b'],
): { a: MemoryRecordPath; b: MemoryRecordPath } {
  const a = new MemoryRecordPath(scheduler, labels[0], profile);
  const b = new MemoryRecordPath(scheduler, labels[1], profile);
  a.peer = b;
  b.peer = a;
  return { a, b };
}
