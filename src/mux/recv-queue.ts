/**
 * Received-but-not-yet-consumed payloads of one stream. The stream's window
 * bounds the payload bytes in here; this class bounds the per-chunk overhead
 * too: a peer sending 1-byte frames would otherwise make us hold ~100 bytes
 * of Buffer bookkeeping per byte of window. Small payloads are therefore
 * copied into a shared tail buffer, and a tail closed while mostly empty is
 * shrunk to its content.
 */
import { Fifo } from '../util/fifo.js';

/** Payloads below this are coalesced; above it the per-Buffer cost is < ~20 %. */
const COALESCE_BELOW = 512;
const TAIL_CAPACITY = 4096;

export class RecvQueue {
  private readonly chunks = new Fifo<Buffer>();
  private tail: Buffer | null = null;
  private tailFill = 0;

  get empty(): boolean {
    return this.chunks.length === 0 && this.tailFill === 0;
  }

  /** `payload` is kept by reference: nobody may modify it afterwards (see FrameDecoder). */
  push(payload: Uint8Array): void {
    const n = payload.byteLength;
    if (n === 0) return;
    if (n >= COALESCE_BELOW) {
      this.closeTail();
      this.chunks.push(Buffer.from(payload.buffer, payload.byteOffset, n));
      return;
    }
    if (this.tail === null || this.tailFill + n > this.tail.byteLength) {
      this.closeTail();
      this.tail = Buffer.allocUnsafeSlow(TAIL_CAPACITY);
    }
    this.tail.set(payload, this.tailFill);
    this.tailFill += n;
  }

  shift(): Buffer | undefined {
    const c = this.chunks.shift();
    if (c !== undefined) return c;
    // tailFill > 0 only while a tail exists.
    const tail = this.tail;
    if (this.tailFill === 0 || tail === null) return undefined;
    // Hand out the tail itself and start a fresh one next time: the
    // consumer keeps the Buffer, so we must not write into it again.
    const out = tail.subarray(0, this.tailFill);
    this.tail = null;
    this.tailFill = 0;
    return out;
  }

  clear(): void {
    this.chunks.clear();
    this.tail = null;
    this.tailFill = 0;
  }

  private closeTail(): void {
    if (this.tail === null || this.tailFill === 0) {
      this.tail = null;
      return;
    }
    let filled = this.tail.subarray(0, this.tailFill);
    if (this.tailFill * 2 < TAIL_CAPACITY) {
      // Mostly empty: keep a right-sized copy rather than pin 4 KiB.
      const copy = Buffer.allocUnsafeSlow(this.tailFill);
      filled.copy(copy);
      filled = copy;
    }
    this.chunks.push(filled);
    this.tail = null;
    this.tailFill = 0;
  }
}
