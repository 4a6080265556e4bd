/**
 * Relay link framing (TCP, through the rendezvous):
 *
 *   length u32 big-endian | sealed record (length bytes)
 *
 * A length of 0 or over the link's maxRecord is never sent, so it means the
 * byte stream is corrupt. Sans-I/O: chunks in, whole records out, one at a
 * time so the link can stop between records (receive back-pressure).
 */
import { Fifo } from '../util/fifo.js';

export const RECORD_FRAME_HEADER = 4;

/** The 4-byte header that goes in front of a record of `length` bytes. */
export function recordFrameHeader(length: number): Buffer {
  const header = Buffer.allocUnsafe(RECORD_FRAME_HEADER);
  header.writeUInt32BE(length, 0);
  return header;
}

/**
 * Reassembles records from chunks split anywhere. A record split over many
 * chunks is collected as views and copied once, when it is complete, so the
 * work stays linear in the bytes received however small the chunks are. A
 * record that lies inside one chunk comes out as a view of that chunk.
 */
export class RecordFrameReader {
  /** Chunks not yet consumed; `offset` bytes of the first are. */
  private readonly chunks = new Fifo<Buffer>();
  private offset = 0;
  private unread = 0;
  /** Header bytes gathered so far when a header straddles chunks. */
  private readonly header = Buffer.alloc(RECORD_FRAME_HEADER);
  private headerHave = 0;
  /** Length of the record being gathered, or -1 while reading a header. */
  private bodyLength = -1;
  private pieces: Buffer[] = [];
  private bodyHave = 0;
  private bad: number | null = null;

  constructor(readonly maxRecord: number) {}

  /** True once a length of 0 or over maxRecord was read; the reader then holds and yields nothing. */
  get corrupt(): boolean {
    return this.bad !== null;
  }

  /** The length that made the stream corrupt (for logs), or null. */
  get corruptLength(): number | null {
    return this.bad;
  }

  /** Bytes received and not yet returned in a record (header bytes included). */
  get pendingBytes(): number {
    return this.unread + this.headerHave + this.bodyHave + (this.bodyLength >= 0 ? RECORD_FRAME_HEADER : 0);
  }

  push(chunk: Buffer): void {
    if (this.bad !== null || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.unread += chunk.length;
  }

  /** The next whole record, or null if more bytes are needed (or the stream is corrupt). */
  next(): Buffer | null {
    while (this.bad === null) {
      const chunk = this.chunks.peek();
      if (chunk === undefined) return null;
      const avail = chunk.length - this.offset;

      if (this.bodyLength < 0) {
        let length: number;
        if (this.headerHave === 0 && avail >= RECORD_FRAME_HEADER) {
          length = chunk.readUInt32BE(this.offset);
          this.consume(chunk, RECORD_FRAME_HEADER);
        } else {
          const n = Math.min(RECORD_FRAME_HEADER - this.headerHave, avail);
          chunk.copy(this.header, this.headerHave, this.offset, this.offset + n);
          this.headerHave += n;
          this.consume(chunk, n);
          if (this.headerHave < RECORD_FRAME_HEADER) continue;
          this.headerHave = 0;
          length = this.header.readUInt32BE(0);
        }
        if (length === 0 || length > this.maxRecord) {
          this.fail(length);
          return null;
        }
        this.bodyLength = length;
        continue;
      }

      const want = this.bodyLength - this.bodyHave;
      if (this.bodyHave === 0 && avail >= want) {
        const record = chunk.subarray(this.offset, this.offset + want);
        this.consume(chunk, want);
        this.bodyLength = -1;
        return record;
      }
      const n = Math.min(avail, want);
      this.pieces.push(chunk.subarray(this.offset, this.offset + n));
      this.bodyHave += n;
      this.consume(chunk, n);
      if (this.bodyHave === this.bodyLength) {
        const record = Buffer.concat(this.pieces, this.bodyLength);
        this.pieces = [];
        this.bodyHave = 0;
        this.bodyLength = -1;
        return record;
      }
    }
    return null;
  }

  /** Drops everything held (the link closed). */
  clear(): void {
    this.chunks.clear();
    this.offset = 0;
    this.unread = 0;
    this.headerHave = 0;
    this.bodyLength = -1;
    this.pieces = [];
    this.bodyHave = 0;
  }

  private consume(chunk: Buffer, n: number): void {
    this.offset += n;
    this.unread -= n;
    if (this.offset === chunk.length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }

  private fail(length: number): void {
    this.clear();
    this.bad = length;
  }
}
