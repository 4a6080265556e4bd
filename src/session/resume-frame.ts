/**
 * Frames of the byte ledger, carried inside every transport (plaintext,
 * before sealing):
 *
 *   frame = type u8 | length u24 big-endian (bytes of body) | body
 *   DATA (1): body = offset u64 BE | bytes    (length = 8 + bytes)
 *   ACK  (2): body = offset u64 BE            (length = 8)
 *   DATAGRAM (3): body = one datagram of a UDP service, whole (relay records
 *             only: on a direct path datagrams are packets of their own, and
 *             KCP's stream never carries one)
 *
 * The KCP transport carries them in stream mode, so a frame may arrive split
 * across chunks, or several in one. The decoder checks a frame's header before
 * its body arrives, so a peer announcing a huge frame is refused without a
 * byte of it buffered. Sans-I/O; never throws on input.
 */
import { BurrowError } from '../errors.js';
import { at } from '../util/at.js';

export const FrameType = {
  Data: 1,
  Ack: 2,
  Datagram: 3,
} as const;
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

/** type u8 + length u24. */
export const FRAME_HEADER_LENGTH = 4;
/** Bytes of the offset field that opens every body. */
const OFFSET_LENGTH = 8;
/** Frame header + offset: what precedes a DATA frame's bytes. */
export const DATA_HEADER_LENGTH = FRAME_HEADER_LENGTH + OFFSET_LENGTH;
/** Largest body the u24 length can say. */
const MAX_U24 = 0xff_ffff;
/** Default largest body a decoder accepts: 256 KiB of stream bytes plus the offset. */
export const MAX_FRAME_BODY = 256 * 1024 + OFFSET_LENGTH;
/** Most stream bytes one DATA frame carries under the default limit. */
export const MAX_DATA_BYTES = MAX_FRAME_BODY - OFFSET_LENGTH;
/** 2^21: an offset's high 32 bits must stay below it, so the offset is < 2^53. */
const OFFSET_HIGH_LIMIT = 2 ** 21;
const TWO_32 = 2 ** 32;
const EMPTY = Buffer.alloc(0);

export type ResumeFrame =
  | { type: 'data'; offset: number; bytes: Buffer }
  | { type: 'ack'; offset: number }
  | { type: 'datagram'; bytes: Buffer }
  | { type: 'error'; reason: string };

function checkOffset(offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `frame offset must be a safe integer >= 0, got ${offset}`);
  }
}

function writeHeader(out: Buffer, type: FrameTypeValue, bodyLength: number, offset: number): void {
  out[0] = type;
  out.writeUIntBE(bodyLength, 1, 3);
  out.writeUInt32BE(Math.floor(offset / TWO_32), FRAME_HEADER_LENGTH);
  out.writeUInt32BE(offset % TWO_32, FRAME_HEADER_LENGTH + 4);
}

/** The 12-byte header of a DATA frame for `byteLength` bytes at `offset`; send the bytes right after it. */
export function encodeDataHeader(offset: number, byteLength: number): Buffer {
  checkOffset(offset);
  if (!Number.isSafeInteger(byteLength) || byteLength < 0 || byteLength + OFFSET_LENGTH > MAX_U24) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `DATA frame of ${byteLength} bytes does not fit a u24 length`);
  }
  const out = Buffer.allocUnsafe(DATA_HEADER_LENGTH);
  writeHeader(out, FrameType.Data, OFFSET_LENGTH + byteLength, offset);
  return out;
}

/** A whole DATA frame (one copy of `bytes`; prefer encodeDataHeader when the transport takes pieces). */
export function encodeData(offset: number, bytes: Uint8Array): Buffer {
  const header = encodeDataHeader(offset, bytes.byteLength);
  const out = Buffer.allocUnsafe(DATA_HEADER_LENGTH + bytes.byteLength);
  header.copy(out, 0);
  out.set(bytes, DATA_HEADER_LENGTH);
  return out;
}

export function encodeAck(offset: number): Buffer {
  checkOffset(offset);
  const out = Buffer.allocUnsafe(DATA_HEADER_LENGTH);
  writeHeader(out, FrameType.Ack, OFFSET_LENGTH, offset);
  return out;
}

/** The 4-byte header of a DATAGRAM frame for `byteLength` bytes; send the datagram right after it. */
export function encodeDatagramHeader(byteLength: number): Buffer {
  if (!Number.isSafeInteger(byteLength) || byteLength < 0 || byteLength > MAX_U24) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `DATAGRAM frame of ${byteLength} bytes does not fit a u24 length`);
  }
  const out = Buffer.allocUnsafe(FRAME_HEADER_LENGTH);
  out[0] = FrameType.Datagram;
  out.writeUIntBE(byteLength, 1, 3);
  return out;
}

/**
 * Incremental decoder: push chunks in any split, take frames with next()
 * until it returns null. Bytes held between pushes are at most one
 * unfinished frame, so under maxBody + 4 when the caller drains after each
 * push. After an error it stays in error (the stream is out of sync: close
 * the session) and holds nothing.
 */
export class FrameDecoder {
  private readonly maxBody: number;
  /** Unconsumed chunks from `head`; the first one starts at `pos`. */
  private chunks: Buffer[] = [];
  private head = 0;
  private pos = 0;
  private buffered = 0;
  private failed: ResumeFrame | null = null;

  constructor(opts: { maxBody?: number } = {}) {
    const maxBody = opts.maxBody ?? MAX_FRAME_BODY;
    if (!Number.isSafeInteger(maxBody) || maxBody < OFFSET_LENGTH || maxBody > MAX_U24) {
      throw new BurrowError('ERR_INVALID_ARGUMENT', `maxBody must be an integer in ${OFFSET_LENGTH}..${MAX_U24}, got ${maxBody}`);
    }
    this.maxBody = maxBody;
  }

  /** Bytes held that are not yet a whole frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Appends a chunk (kept by reference: the caller must not modify it afterwards). */
  push(chunk: Buffer): void {
    if (this.failed !== null || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The next whole frame, null when more bytes are needed, or the error the stream is stuck in. */
  next(): ResumeFrame | null {
    if (this.failed !== null) return this.failed;
    if (this.buffered < FRAME_HEADER_LENGTH) return null;
    const header = this.peekHeader();
    const type = header[0];
    const length = header[1];
    if (type !== FrameType.Data && type !== FrameType.Ack && type !== FrameType.Datagram) {
      return this.fail(`unknown frame type ${type}`);
    }
    if (length > this.maxBody) return this.fail(`frame body of ${length} bytes exceeds ${this.maxBody}`);
    if (type === FrameType.Ack && length !== OFFSET_LENGTH) return this.fail(`ACK body of ${length} bytes, not 8`);
    if (type === FrameType.Data && length < OFFSET_LENGTH) return this.fail(`DATA body of ${length} bytes is shorter than its offset`);
    if (this.buffered < FRAME_HEADER_LENGTH + length) return null;
    this.take(FRAME_HEADER_LENGTH);
    if (type === FrameType.Datagram) return { type: 'datagram', bytes: this.take(length) };
    const offsetField = this.take(OFFSET_LENGTH);
    const high = offsetField.readUInt32BE(0);
    if (high >= OFFSET_HIGH_LIMIT) return this.fail('frame offset is 2^53 or more');
    const offset = high * TWO_32 + offsetField.readUInt32BE(4);
    if (type === FrameType.Ack) return { type: 'ack', offset };
    return { type: 'data', offset, bytes: this.take(length - OFFSET_LENGTH) };
  }

  /** [type, body length] from the first 4 buffered bytes, without consuming them. */
  private peekHeader(): [number, number] {
    const first = at(this.chunks, this.head);
    if (first.length - this.pos >= FRAME_HEADER_LENGTH) {
      return [at(first, this.pos), first.readUIntBE(this.pos + 1, 3)];
    }
    const bytes = [0, 0, 0, 0];
    let i = this.head;
    let p = this.pos;
    for (let k = 0; k < FRAME_HEADER_LENGTH; k++) {
      let c = at(this.chunks, i);
      while (p >= c.length) {
        i++;
        p = 0;
        c = at(this.chunks, i);
      }
      bytes[k] = at(c, p++);
    }
    return [at(bytes, 0), (at(bytes, 1) << 16) | (at(bytes, 2) << 8) | at(bytes, 3)];
  }

  /** Consumes `n` buffered bytes: a subarray when they sit in one chunk, else a copy joining them. */
  private take(n: number): Buffer {
    if (n === 0) return EMPTY; // an empty DATA body: there may be no chunk left at all
    const first = at(this.chunks, this.head);
    if (first.length - this.pos >= n) {
      const out = first.subarray(this.pos, this.pos + n);
      this.consumed(n, first.length);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = at(this.chunks, this.head);
      const k = Math.min(c.length - this.pos, n - filled);
      c.copy(out, filled, this.pos, this.pos + k);
      filled += k;
      this.consumed(k, c.length);
    }
    return out;
  }

  /** Moves past `n` bytes of the head chunk (of length `chunkLength`). */
  private consumed(n: number, chunkLength: number): void {
    this.buffered -= n;
    this.pos += n;
    if (this.pos < chunkLength) return;
    this.pos = 0;
    this.chunks[this.head] = EMPTY; // let the Buffer go now, not at compaction
    this.head++;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head >= 64 && this.head * 2 >= this.chunks.length) {
      // Many tiny chunks (a peer trickling bytes): drop consumed slots in bulk.
      this.chunks.splice(0, this.head);
      this.head = 0;
    }
  }

  private fail(reason: string): ResumeFrame {
    this.failed = { type: 'error', reason };
    this.chunks = [];
    this.head = 0;
    this.pos = 0;
    this.buffered = 0;
    return this.failed;
  }
}
