/**
 * Byte ledger: lets a session's byte stream survive a change of transport.
 *
 * The mux above writes one ordered byte stream. The ledger numbers it by
 * offset, keeps every byte the peer has not acknowledged, and after a
 * transport change (`rewind`) hands out everything unacknowledged again; the
 * receiving ledger delivers each byte once, dropping what it already has.
 * Each transport is reliable and in order while it lives (KCP, TCP), so the
 * ledger needs no retransmission timers of its own: loss only happens when a
 * transport dies, and then the session rewinds onto the next one.
 *
 * Sans-I/O: bytes and `now` in, bytes, ACK offsets and a deadline out.
 * Offsets are safe integers (< 2^53); anything beyond is a protocol error.
 */
import { BurrowError } from '../errors.js';
import { at } from '../util/at.js';

export interface ByteLedgerOptions {
  /** Most unacknowledged bytes kept for resending; at or over it write() returns false. Default 8 MiB. */
  capacity?: number;
  /** Send an ACK once this many bytes were delivered since the last one sent. Default capacity / 8. */
  ackEvery?: number;
  /** ...or this long after the first delivery not yet acknowledged. Default 20 ms. */
  ackDelayMs?: number;
}

/** Ledger policy in one place: sizes and the one timer. */
export const LEDGER_POLICY = {
  /** Default `capacity`: unacknowledged bytes kept for resending. */
  capacity: 8 * 1024 * 1024,
  /** Default `ackEvery` is capacity / this, so the sender's window never stalls waiting on the timer. */
  ackEveryDivisor: 8,
  /** Default `ackDelayMs`: an ACK goes at most this long after the first byte it covers arrived. */
  ackDelayMs: 20,
  /**
   * Writes shorter than this are copied into a shared block instead of kept
   * as their own chunk: the mux writes 12-byte control frames, and 8 MiB of
   * them as separate Buffers would be ~700k objects.
   */
  coalesceBelow: 1024,
  /** Size of a block small writes are copied into. */
  blockSize: 16 * 1024,
} as const;

/** onData's answer for bytes beyond what was delivered: the peer broke the protocol. */
export const GAP: unique symbol = Symbol('byte-ledger gap');

const EMPTY = Buffer.alloc(0);
/** Dropped chunk slots are compacted away once at least this many pile up at the head. */
const COMPACT_AFTER = 1024;

/**
 * One direction pair of a session's reliable byte stream: the sending side
 * (write / pollData / onAck / rewind) and the receiving side (onData /
 * pollAck / ackNow) are independent.
 *
 * Back-pressure: `write` never refuses bytes, it returns false once
 * `retained >= capacity`. The caller must then stop writing until `writable`
 * is true again (after an ACK), so retained never exceeds capacity by more
 * than the last write.
 */
export class ByteLedger {
  private readonly capacity: number;
  private readonly ackEvery: number;
  private readonly ackDelayMs: number;

  // --- outgoing: a queue of chunks from `head`, chunk i covering [starts[i], starts[i] + length)
  private chunks: Buffer[] = [];
  private starts: number[] = [];
  private head = 0;
  /** Chunk holding the byte at `sendOffset`; chunks.length when everything was handed out. */
  private sendIndex = 0;
  private sendOffset = 0;
  private writtenTotal = 0;
  private acked = 0;
  /** Block that small writes are copied into; the last chunk may view it up to `blockFill`. */
  private block: Buffer | null = null;
  private blockFill = 0;

  // --- incoming
  private deliveredTotal = 0;
  /** Offset in the last ACK pollAck returned. */
  private ackSent = 0;
  /** When the first byte not yet acknowledged was delivered; null iff deliveredTotal === ackSent. */
  private pendingSince: number | null = null;
  private ackForced = false;
  private released = false;

  constructor(opts: ByteLedgerOptions = {}) {
    const capacity = opts.capacity ?? LEDGER_POLICY.capacity;
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new BurrowError('ERR_INVALID_ARGUMENT', `ledger capacity must be a positive integer, got ${capacity}`);
    }
    const ackEvery = opts.ackEvery ?? Math.max(1, Math.floor(capacity / LEDGER_POLICY.ackEveryDivisor));
    if (!Number.isSafeInteger(ackEvery) || ackEvery < 1) {
      throw new BurrowError('ERR_INVALID_ARGUMENT', `ledger ackEvery must be a positive integer, got ${ackEvery}`);
    }
    const ackDelayMs = opts.ackDelayMs ?? LEDGER_POLICY.ackDelayMs;
    if (!Number.isFinite(ackDelayMs) || ackDelayMs < 0) {
      throw new BurrowError('ERR_INVALID_ARGUMENT', `ledger ackDelayMs must be a finite number >= 0, got ${ackDelayMs}`);
    }
    this.capacity = capacity;
    this.ackEvery = ackEvery;
    this.ackDelayMs = ackDelayMs;
  }

  // ------------------------------------------------------------------ outgoing

  /**
   * Appends `bytes` to the stream. Takes the buffer: the caller must not
   * modify it afterwards (it is kept and handed out as is, except that
   * writes under LEDGER_POLICY.coalesceBelow bytes are copied). Returns false
   * once retained >= capacity; the bytes are accepted even then, and the
   * caller must stop writing until `writable`. After release(): dropped, false.
   */
  write(bytes: Buffer): boolean {
    if (this.released) return false;
    const n = bytes.length;
    if (n === 0) return this.writable;
    if (this.writtenTotal + n > Number.MAX_SAFE_INTEGER) {
      throw new BurrowError('ERR_INVALID_ARGUMENT', 'byte stream offset would pass 2^53');
    }
    if (n < LEDGER_POLICY.coalesceBelow) {
      this.writeSmall(bytes);
    } else {
      this.chunks.push(bytes);
      this.starts.push(this.writtenTotal);
    }
    this.writtenTotal += n;
    return this.writable;
  }

  /** Written and not acknowledged. */
  get retained(): number {
    return this.released ? 0 : this.writtenTotal - this.acked;
  }

  /** Written and not yet handed out by pollData since the last rewind. */
  get unsent(): number {
    return this.released ? 0 : this.writtenTotal - this.sendOffset;
  }

  get writable(): boolean {
    return !this.released && this.writtenTotal - this.acked < this.capacity;
  }

  /** Total offset written. */
  get written(): number {
    return this.writtenTotal;
  }

  /** Highest offset the peer acknowledged. */
  get acknowledged(): number {
    return this.acked;
  }

  /** Chunks held for resending (for tests and metrics: memory is bounded by it and `retained`). */
  get retainedChunks(): number {
    return this.chunks.length - this.head;
  }

  /**
   * The next unsent bytes from the send cursor, at most `maxBytes`, and
   * advances the cursor; null when nothing is unsent. A subarray of one
   * chunk when that chunk has maxBytes left, or at least half of it, or is
   * the last; otherwise a copy joining chunks up to maxBytes (so the mux's
   * small frames go out together).
   */
  pollData(maxBytes: number): { offset: number; bytes: Buffer } | null {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
      throw new BurrowError('ERR_INVALID_ARGUMENT', `pollData maxBytes must be a positive integer, got ${maxBytes}`);
    }
    if (this.released || this.sendOffset === this.writtenTotal) return null;
    const offset = this.sendOffset;
    const chunk = at(this.chunks, this.sendIndex);
    const pos = offset - at(this.starts, this.sendIndex);
    const avail = chunk.length - pos;
    if (avail >= maxBytes || avail * 2 >= maxBytes || this.sendIndex === this.chunks.length - 1) {
      const n = Math.min(avail, maxBytes);
      this.sendOffset += n;
      if (n === avail) this.sendIndex++;
      return { offset, bytes: chunk.subarray(pos, pos + n) };
    }
    const total = Math.min(maxBytes, this.writtenTotal - offset);
    const out = Buffer.allocUnsafe(total);
    let filled = 0;
    while (filled < total) {
      const c = at(this.chunks, this.sendIndex);
      const p = this.sendOffset - at(this.starts, this.sendIndex);
      const n = Math.min(c.length - p, total - filled);
      c.copy(out, filled, p, p + n);
      filled += n;
      this.sendOffset += n;
      if (p + n === c.length) this.sendIndex++;
    }
    return { offset, bytes: out };
  }

  /** The transport changed: everything unacknowledged goes again, from `acknowledged`. */
  rewind(): void {
    if (this.released) return;
    this.sendOffset = this.acked;
    this.sendIndex = this.head;
  }

  /**
   * The peer delivered everything below `offset`: frees what it covers.
   * An offset at or below `acknowledged` is old news (true, ignored). Beyond
   * `written`, negative or not a safe integer: the peer is broken; false and
   * nothing changes.
   */
  onAck(offset: number): boolean {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > this.writtenTotal) return false;
    if (this.released || offset <= this.acked) return true;
    while (this.head < this.chunks.length) {
      const c = at(this.chunks, this.head);
      const start = at(this.starts, this.head);
      if (start + c.length > offset) {
        if (start < offset) {
          this.chunks[this.head] = c.subarray(offset - start);
          this.starts[this.head] = offset;
        }
        break;
      }
      this.chunks[this.head] = EMPTY; // let the Buffer go now, not at compaction
      this.head++;
    }
    this.acked = offset;
    // An ACK for bytes not yet re-sent since a rewind (it came over the old
    // transport): no need to send them again.
    if (this.sendOffset < offset) {
      this.sendOffset = offset;
      this.sendIndex = this.head;
    }
    this.compact();
    return true;
  }

  // ------------------------------------------------------------------ incoming

  /**
   * Bytes that arrived at `offset`. Returns the part not delivered before (a
   * subarray of `bytes`), null when all of it was (duplicates after the
   * peer's rewind), or GAP when `offset` is beyond `delivered` or the range
   * passes 2^53: an honest peer never does that, so the caller treats it as
   * a protocol error. Nothing changes on GAP.
   */
  onData(offset: number, bytes: Buffer, now: number): Buffer | null | typeof GAP {
    if (this.released) return null;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + bytes.length > Number.MAX_SAFE_INTEGER) return GAP;
    if (offset > this.deliveredTotal) return GAP;
    const skip = this.deliveredTotal - offset;
    if (skip >= bytes.length) return null;
    const fresh = skip === 0 ? bytes : bytes.subarray(skip);
    this.deliveredTotal += fresh.length;
    this.pendingSince ??= now;
    return fresh;
  }

  /** Everything below this offset was delivered. */
  get delivered(): number {
    return this.deliveredTotal;
  }

  /**
   * The offset to acknowledge if an ACK is due now, and marks it sent: when
   * `ackEvery` bytes were delivered since the last ACK, when `ackDelayMs`
   * passed since the first byte not yet acknowledged arrived, or after
   * ackNow(). Otherwise null.
   */
  pollAck(now: number): number | null {
    if (this.released || !this.ackDue(now)) return null;
    this.ackSent = this.deliveredTotal;
    this.pendingSince = null;
    this.ackForced = false;
    return this.deliveredTotal;
  }

  /**
   * The next pollAck returns `delivered` even if it did not move: after a
   * transport change (the peer rewinds only as far as it must, and an ACK
   * lost with the old transport is replaced), and when delivered is still 0.
   */
  ackNow(): void {
    if (!this.released) this.ackForced = true;
  }

  /**
   * When pollAck will have an ACK due: -Infinity when one is due already
   * whatever the time, Infinity when nothing is pending.
   */
  nextDeadline(): number {
    if (this.released) return Infinity;
    if (this.ackForced) return -Infinity;
    if (this.pendingSince === null) return Infinity;
    if (this.deliveredTotal - this.ackSent >= this.ackEvery) return -Infinity;
    return this.pendingSince + this.ackDelayMs;
  }

  /** The session closed: frees every buffer. Afterwards the ledger takes and hands out nothing. */
  release(): void {
    this.released = true;
    this.chunks = [];
    this.starts = [];
    this.head = 0;
    this.sendIndex = 0;
    this.block = null;
    this.blockFill = 0;
    this.pendingSince = null;
    this.ackForced = false;
  }

  // ------------------------------------------------------------------ internals

  private ackDue(now: number): boolean {
    if (this.ackForced) return true;
    if (this.pendingSince === null) return false;
    return this.deliveredTotal - this.ackSent >= this.ackEvery || now >= this.pendingSince + this.ackDelayMs;
  }

  /** Copies a small write into the open block, extending the last chunk when it ends where the block is filled. */
  private writeSmall(bytes: Buffer): void {
    const n = bytes.length;
    const count = this.chunks.length;
    const block = this.block;
    if (block !== null && count > this.head && this.blockFill + n <= block.length) {
      const last = at(this.chunks, count - 1);
      if (last.buffer === block.buffer && last.byteOffset + last.length === block.byteOffset + this.blockFill) {
        bytes.copy(block, this.blockFill);
        this.blockFill += n;
        // Bytes already handed out from `last` are untouched; the view just grows.
        this.chunks[count - 1] = block.subarray(last.byteOffset - block.byteOffset, this.blockFill);
        // The cursor sat at the end of the stream, past the last chunk: it now points into it.
        if (this.sendIndex === count) this.sendIndex = count - 1;
        return;
      }
    }
    const fresh = Buffer.allocUnsafeSlow(LEDGER_POLICY.blockSize);
    bytes.copy(fresh, 0);
    this.block = fresh;
    this.blockFill = n;
    this.chunks.push(fresh.subarray(0, n));
    this.starts.push(this.writtenTotal);
  }

  /** Drops the slots of acknowledged chunks once they are many (amortised O(1) per chunk). */
  private compact(): void {
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.starts = [];
      this.sendIndex = 0;
      this.head = 0;
      this.block = null;
      return;
    }
    if (this.head < COMPACT_AFTER || this.head * 2 < this.chunks.length) return;
    this.chunks.splice(0, this.head);
    this.starts.splice(0, this.head);
    this.sendIndex -= this.head;
    this.head = 0;
  }
}
