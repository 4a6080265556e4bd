/**
 * The send side's in-flight segments (ikcp's snd_buf), addressed by sequence
 * number so an ACK finds its segment in O(1). Acked segments leave a hole
 * (null) until snd_una moves past them. `slots[sn & mask]` is never out of
 * range, so readers test `== null`: the index type's `undefined` is a hole too.
 */
import { ringCapacity } from './pow2.js';

export class SendSegment {
  sn = 0;
  frg: number;
  /** Time of the latest transmission (u32 ms); ACKs echo it. */
  ts = 0;
  /** When to retransmit (u32 ms). */
  resendts = 0;
  /** This segment's own, backed-off timeout. */
  rto = 0;
  /** Later ACKs seen since the last transmission. */
  fastack = 0;
  /** Transmissions so far. */
  xmit = 0;
  /** Payload; may have spare capacity while a stream-mode segment is still queued. */
  data: Buffer;
  len: number;

  constructor(data: Buffer, len: number, frg: number) {
    this.data = data;
    this.len = len;
    this.frg = frg;
  }
}

export class SendWindow {
  slots: (SendSegment | null)[];
  mask: number;
  /** Segments not yet acknowledged. */
  count = 0;

  constructor(minCapacity: number) {
    const cap = ringCapacity(minCapacity);
    this.slots = new Array<SendSegment | null>(cap).fill(null);
    this.mask = cap - 1;
  }

  get capacity(): number {
    return this.mask + 1;
  }

  /** The in-flight segment with this sn, or null. Every `sn & mask` is a slot, so `?? null` only narrows the index type. */
  get(sn: number): SendSegment | null {
    return this.slots[sn & this.mask] ?? null;
  }

  /** Grows so that `span` consecutive sns starting at `from` fit, keeping entries. */
  ensureSpan(from: number, span: number): void {
    if (span <= this.capacity) return;
    const cap = ringCapacity(span);
    const slots = new Array<SendSegment | null>(cap).fill(null);
    const mask = cap - 1;
    const old = this.capacity;
    for (let i = 0; i < old; i++) {
      const seg = this.slots[((from + i) >>> 0) & this.mask];
      if (seg != null) slots[seg.sn & mask] = seg;
    }
    this.slots = slots;
    this.mask = mask;
  }

  clear(): void {
    this.slots.fill(null);
    this.count = 0;
  }
}
