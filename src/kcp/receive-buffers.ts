/**
 * Receive side storage. FragmentWindow is ikcp's rcv_buf (out-of-order
 * segments keyed by sn); FragmentQueue is rcv_queue (in-order segments the
 * application has not read). Both are rings of parallel arrays, so receiving
 * allocates nothing beyond the payload view.
 *
 * Every slot index is `x & mask` into arrays of mask + 1 entries, so a read
 * is never out of range; `== null` below treats the `undefined` of the index
 * type like an empty slot.
 */
import { BurrowError } from '../errors.js';
import { u8 } from '../util/bytes.js';
import { ringCapacity } from './pow2.js';

function emptySlot(i: number): BurrowError {
  return new BurrowError('ERR_INTERNAL', `fragment queue slot ${i} is empty`);
}

export class FragmentQueue {
  private data: (Buffer | null)[];
  private frg: Uint8Array;
  private mask: number;
  private head = 0;
  length = 0;
  /** Payload bytes queued. */
  bytes = 0;
  /** Queued segments with frg 0, i.e. complete messages in message mode. */
  complete = 0;

  constructor(minCapacity: number) {
    const cap = ringCapacity(minCapacity);
    this.data = new Array<Buffer | null>(cap).fill(null);
    this.frg = new Uint8Array(cap);
    this.mask = cap - 1;
  }

  ensureCapacity(min: number): void {
    if (min <= this.mask + 1) return;
    const cap = ringCapacity(min);
    const data = new Array<Buffer | null>(cap).fill(null);
    const frg = new Uint8Array(cap);
    for (let i = 0; i < this.length; i++) {
      const j = (this.head + i) & this.mask;
      data[i] = this.data[j] ?? null;
      frg[i] = u8(this.frg, j);
    }
    this.data = data;
    this.frg = frg;
    this.mask = cap - 1;
    this.head = 0;
  }

  push(data: Buffer, frg: number): void {
    if (this.length > this.mask) this.ensureCapacity(this.length + 1);
    const j = (this.head + this.length) & this.mask;
    this.data[j] = data;
    this.frg[j] = frg;
    this.length++;
    this.bytes += data.length;
    if (frg === 0) this.complete++;
  }

  /** Payload of the i-th queued segment; the caller has checked `i < length`. */
  dataAt(i: number): Buffer {
    const d = this.data[(this.head + i) & this.mask];
    if (d == null) throw emptySlot(i);
    return d;
  }

  /** frg of the i-th queued segment; the caller has checked `i < length`. */
  frgAt(i: number): number {
    return u8(this.frg, (this.head + i) & this.mask);
  }

  /** Removes the first queued segment; the caller has checked `length > 0`. */
  shift(): Buffer {
    const j = this.head;
    const d = this.data[j];
    if (d == null) throw emptySlot(0);
    this.data[j] = null;
    if (this.frg[j] === 0) this.complete--;
    this.head = (j + 1) & this.mask;
    this.length--;
    this.bytes -= d.length;
    return d;
  }

  clear(): void {
    this.data.fill(null);
    this.head = 0;
    this.length = 0;
    this.bytes = 0;
    this.complete = 0;
  }
}

export class FragmentWindow {
  private data: (Buffer | null)[];
  private frg: Uint8Array;
  private mask: number;
  /** Segments held. */
  count = 0;

  constructor(minCapacity: number) {
    const cap = ringCapacity(minCapacity);
    this.data = new Array<Buffer | null>(cap).fill(null);
    this.frg = new Uint8Array(cap);
    this.mask = cap - 1;
  }

  /** Grows to hold `min` consecutive sns; entries lie in [from, from + old capacity). */
  ensureCapacity(min: number, from: number): void {
    const old = this.mask + 1;
    if (min <= old) return;
    const cap = ringCapacity(min);
    const data = new Array<Buffer | null>(cap).fill(null);
    const frg = new Uint8Array(cap);
    const mask = cap - 1;
    for (let i = 0; i < old; i++) {
      const sn = (from + i) >>> 0;
      const j = sn & this.mask;
      const d = this.data[j];
      if (d != null) {
        data[sn & mask] = d;
        frg[sn & mask] = u8(this.frg, j);
      }
    }
    this.data = data;
    this.frg = frg;
    this.mask = mask;
  }

  /** Stores a segment unless its sn is already held; false for a duplicate. */
  put(sn: number, data: Buffer, frg: number): boolean {
    const j = sn & this.mask;
    if (this.data[j] !== null) return false;
    this.data[j] = data;
    this.frg[j] = frg;
    this.count++;
    return true;
  }

  /**
   * Moves the in-order run starting at `next` into `queue` while the queue is
   * shorter than `limit`; returns the new next-expected sn.
   */
  drainInOrder(next: number, queue: FragmentQueue, limit: number): number {
    while (this.count > 0 && queue.length < limit) {
      const j = next & this.mask;
      const d = this.data[j];
      if (d == null) break;
      queue.push(d, u8(this.frg, j));
      this.data[j] = null;
      this.count--;
      next = (next + 1) >>> 0;
    }
    return next;
  }

  clear(): void {
    this.data.fill(null);
    this.count = 0;
  }
}
