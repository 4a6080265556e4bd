/**
 * Outgoing frames that belong to no live stream: PING, PING answers,
 * GO_AWAY, and RSTs (refusals, answers to stray DATA, resets of streams
 * already forgotten). They go out before stream data, and every kind is
 * bounded, because they pile up exactly when the transport is blocked.
 */
import { Fifo } from '../util/fifo.js';
import { encodeControl } from './frame.js';
import { Flag, FrameType } from './protocol.js';

export type ControlKind = 'ping' | 'keepalive' | 'pong' | 'goaway' | 'reset';

export interface QueuedControl {
  readonly kind: ControlKind;
  readonly frame: Buffer;
}

interface PendingReset {
  readonly id: number;
  readonly reason: number;
}

/** Unanswered peer PINGs we hold while blocked; beyond this the peer's ping just times out. */
const MAX_PONGS = 64;

export class ControlQueue {
  private readonly session = new Fifo<QueuedControl>();
  private readonly resets = new Fifo<PendingReset>();
  private readonly resetIds = new Set<number>();
  private pongs = 0;
  private readonly maxResets: number;

  /** `maxResets`: queued RSTs beyond which pushReset() refuses (see there). */
  constructor(maxResets: number) {
    this.maxResets = maxResets;
  }

  /** The caller bounds its own pings (see PingTracker, and one keepalive at a time). */
  pushPing(opaque: number, kind: 'ping' | 'keepalive' = 'ping'): void {
    this.session.push({ kind, frame: encodeControl(FrameType.Ping, Flag.SYN, 0, opaque) });
  }

  /** False (answer dropped) when too many answers are already waiting. */
  pushPong(opaque: number): boolean {
    if (this.pongs >= MAX_PONGS) return false;
    this.pongs++;
    this.session.push({ kind: 'pong', frame: encodeControl(FrameType.Ping, Flag.ACK, 0, opaque) });
    return true;
  }

  pushGoAway(code: number): void {
    this.session.push({ kind: 'goaway', frame: encodeControl(FrameType.GoAway, 0, 0, code) });
  }

  /**
   * Queues WINDOW_UPDATE|RST for `id` (deduplicated while queued). Returns
   * false when `maxResets` are already waiting: only a peer opening streams
   * far beyond our limit while we cannot write gets there.
   */
  pushReset(id: number, reason: number): boolean {
    if (this.resetIds.has(id)) return true;
    if (this.resetIds.size >= this.maxResets) return false;
    this.resetIds.add(id);
    this.resets.push({ id, reason });
    return true;
  }

  /** Next frame to write: session frames first, then resets. */
  shift(): QueuedControl | undefined {
    const c = this.session.shift();
    if (c !== undefined) {
      if (c.kind === 'pong') this.pongs--;
      return c;
    }
    const r = this.resets.shift();
    if (r === undefined) return undefined;
    this.resetIds.delete(r.id);
    return { kind: 'reset', frame: encodeControl(FrameType.WindowUpdate, Flag.RST, r.id, r.reason) };
  }

  clear(): void {
    this.session.clear();
    this.resets.clear();
    this.resetIds.clear();
    this.pongs = 0;
  }
}
