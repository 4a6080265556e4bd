/**
 * The bookkeeping of a datagram echo check, without sockets or timers: which
 * datagram to send next, whether a reply is the exact bytes sent, and what
 * was lost, duplicated, late or corrupted. The tool (udp-tool.ts) is its
 * shell: it sends what `next()` gives, feeds replies to `onReply()` and calls
 * `expire()` on a clock.
 *
 * Datagram i is `seq u32 BE | tag u32 BE | keystream`, its size chosen up
 * front (the first is `maxSize`, the second `minSize`, the rest uniform in
 * between) and its bytes an AES-256-CTR keystream of a per-run key with the
 * sequence number as IV: nothing sent needs storing to check a reply.
 */
import { createCipheriv, randomBytes, randomInt } from 'node:crypto';

/** seq + tag. */
export const BURST_HEADER = 8;

/** 0: not sent yet. */
const IN_FLIGHT = 1;
const RECEIVED = 2;
const LOST = 3;

export type ReplyVerdict = 'ok' | 'late' | 'duplicate' | 'corrupt' | 'stray';

export interface BurstOptions {
  count: number;
  /** Largest datagram (bytes, header included). */
  maxSize: number;
  /** Smallest datagram, at least BURST_HEADER. Default BURST_HEADER. */
  minSize?: number;
  /** Datagrams in flight at most. */
  window: number;
  /** A datagram not answered within this is counted lost (a later answer is "late"). */
  lossTimeoutMs: number;
}

export interface BurstReport {
  count: number;
  sent: number;
  /** Answered byte-exact (late ones included). */
  received: number;
  lost: number;
  late: number;
  duplicates: number;
  corrupt: number;
  stray: number;
  bytesSent: number;
  maxSizeSent: number;
  /** Round trips of answered datagrams, ms: p50 and max. */
  rttP50Ms: number | null;
  rttMaxMs: number | null;
}

export class BurstLedger {
  private readonly key = randomBytes(32);
  private readonly tag = randomInt(0, 2 ** 32 - 1);
  private readonly sizes: Uint32Array;
  private readonly state: Uint8Array;
  /** seq -> [sent at, deadline]; at most `window` entries. */
  private readonly inflight = new Map<number, readonly [number, number]>();
  private nextSeq = 0;
  private readonly rtts: number[] = [];
  private readonly counts = { late: 0, duplicates: 0, corrupt: 0, stray: 0, bytesSent: 0, maxSizeSent: 0 };

  constructor(private readonly o: BurstOptions) {
    const min = o.minSize ?? BURST_HEADER;
    if (!Number.isSafeInteger(o.count) || o.count < 1 || o.count > 1_000_000) throw new RangeError(`count out of range: ${o.count}`);
    if (!(min >= BURST_HEADER && o.maxSize >= min && o.maxSize <= 65_507)) throw new RangeError(`sizes out of range: ${min}..${o.maxSize}`);
    if (!(o.window >= 1 && o.window <= 4096)) throw new RangeError(`window out of range: ${o.window}`);
    this.sizes = new Uint32Array(o.count);
    this.state = new Uint8Array(o.count);
    for (let i = 0; i < o.count; i++) this.sizes[i] = i === 0 ? o.maxSize : i === 1 ? min : randomInt(min, o.maxSize + 1);
  }

  private payload(seq: number): Buffer {
    const size = this.sizes[seq] ?? BURST_HEADER;
    const iv = Buffer.alloc(16);
    iv.writeUInt32BE(seq, 12);
    const body = createCipheriv('aes-256-ctr', this.key, iv).update(Buffer.alloc(size - BURST_HEADER));
    const head = Buffer.alloc(BURST_HEADER);
    head.writeUInt32BE(seq, 0);
    head.writeUInt32BE(this.tag, 4);
    return Buffer.concat([head, body]);
  }

  /** The next datagram to send now, or null (window full or all sent). */
  next(now: number): Buffer | null {
    if (this.nextSeq >= this.o.count || this.inflight.size >= this.o.window) return null;
    const seq = this.nextSeq++;
    this.state[seq] = IN_FLIGHT;
    this.inflight.set(seq, [now, now + this.o.lossTimeoutMs]);
    const p = this.payload(seq);
    this.counts.bytesSent += p.length;
    this.counts.maxSizeSent = Math.max(this.counts.maxSizeSent, p.length);
    return p;
  }

  onReply(buf: Buffer, now: number): ReplyVerdict {
    if (buf.length < BURST_HEADER || buf.readUInt32BE(4) !== this.tag) return this.count('stray');
    const seq = buf.readUInt32BE(0);
    if (seq >= this.nextSeq) return this.count('stray');
    if (!this.payload(seq).equals(buf)) return this.count('corrupt');
    const s = this.state[seq];
    if (s === RECEIVED) return this.count('duplicate');
    this.state[seq] = RECEIVED;
    const f = this.inflight.get(seq);
    if (f) {
      this.inflight.delete(seq);
      this.rtts.push(now - f[0]);
      return 'ok';
    }
    return this.count('late');
  }

  private count(v: Exclude<ReplyVerdict, 'ok'>): ReplyVerdict {
    if (v === 'late') this.counts.late++;
    else if (v === 'duplicate') this.counts.duplicates++;
    else if (v === 'corrupt') this.counts.corrupt++;
    else this.counts.stray++;
    return v;
  }

  /** Counts overdue datagrams lost (freeing their window slots); returns how many. */
  expire(now: number): number {
    let n = 0;
    for (const [seq, [, deadline]] of this.inflight) {
      if (deadline > now) continue;
      this.inflight.delete(seq);
      this.state[seq] = LOST;
      n++;
    }
    return n;
  }

  /** Everything sent and nothing in flight. */
  get done(): boolean {
    return this.nextSeq >= this.o.count && this.inflight.size === 0;
  }

  /** The earliest in-flight deadline, or null. */
  nextDeadline(): number | null {
    let d: number | null = null;
    for (const [, [, deadline]] of this.inflight) d = d === null ? deadline : Math.min(d, deadline);
    return d;
  }

  report(): BurstReport {
    let received = 0;
    let lost = 0;
    for (const s of this.state) {
      if (s === RECEIVED) received++;
      else if (s === LOST || s === IN_FLIGHT) lost++;
    }
    const sorted = [...this.rtts].sort((a, b) => a - b);
    return {
      count: this.o.count,
      sent: this.nextSeq,
      received,
      lost,
      ...this.counts,
      rttP50Ms: sorted.length ? (sorted[Math.floor(sorted.length / 2)] ?? null) : null,
      rttMaxMs: sorted.length ? (sorted[sorted.length - 1] ?? null) : null,
    };
  }
}
