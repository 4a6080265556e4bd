/**
 * Control-channel framing (TCP, peer <-> rendezvous):
 *
 *   length u32 big-endian | version u8 | body (UTF-8 JSON)
 *
 * `length` counts version + body. The cap is checked on the header alone, so
 * a peer announcing a huge frame is refused before a byte of it is buffered.
 * Sans-I/O: bytes in, frames out; never throws on input.
 */
import { at } from '../util/at.js';

export const CONTROL_VERSION = 1;
export const CONTROL_HEADER_LENGTH = 4;
/** Control messages are small; anything bigger is an attack or a bug. */
export const MAX_CONTROL_FRAME = 16 * 1024;

export type FrameErrorCode = 'FRAME_TOO_LARGE' | 'FRAME_EMPTY' | 'BAD_VERSION' | 'BAD_JSON';

export interface FrameError {
  readonly error: FrameErrorCode;
  readonly detail: string;
}

export type DecodedFrame = { readonly body: unknown } | FrameError;

export function encodeControlFrame(message: object): Buffer {
  const json = JSON.stringify(message);
  const length = Buffer.byteLength(json, 'utf8');
  if (length + 1 > MAX_CONTROL_FRAME) throw new RangeError(`control message of ${length} bytes exceeds the cap`);
  // One buffer, the string written straight into it: heartbeats are most frames, and each copy is garbage.
  const out = Buffer.allocUnsafe(CONTROL_HEADER_LENGTH + 1 + length);
  out.writeUInt32BE(length + 1, 0);
  out[CONTROL_HEADER_LENGTH] = CONTROL_VERSION;
  out.write(json, CONTROL_HEADER_LENGTH + 1, 'utf8');
  return out;
}

/**
 * Incremental decoder: feed chunks as they arrive, in any split. After an
 * error the decoder is poisoned (the stream is out of sync; close it).
 */
export class ControlFrameDecoder {
  private chunks: Buffer[] = [];
  /** Bytes at the start of chunks[0] already decoded: frames are read in place, not cut off (no garbage per frame). */
  private offset = 0;
  /** Bytes held and not yet decoded. */
  private buffered = 0;
  private failed: FrameError | null = null;

  constructor(private readonly maxFrame = MAX_CONTROL_FRAME) {}

  /** Bytes held that are not yet a whole frame (bounded by the cap). */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Appends a chunk and returns every whole frame now available. */
  push(chunk: Uint8Array): DecodedFrame[] {
    this.append(chunk);
    const out: DecodedFrame[] = [];
    for (let f = this.next(); f !== null; f = this.next()) {
      out.push(f);
      if (isFrameError(f)) break;
    }
    return out;
  }

  append(chunk: Uint8Array): void {
    if (this.failed !== null || chunk.length === 0) return;
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.buffered += chunk.length;
  }

  /**
   * The next whole frame, or null if more bytes are needed. One at a time, so
   * a consumer can stop after a frame that switches the stream to raw bytes.
   */
  next(): DecodedFrame | null {
    if (this.failed !== null) return this.failed;
    if (this.buffered < CONTROL_HEADER_LENGTH) return null;
    let first = at(this.chunks, 0);
    if (first.length - this.offset < CONTROL_HEADER_LENGTH) first = this.merge();
    const length = first.readUInt32BE(this.offset);
    if (length === 0) return this.fail('FRAME_EMPTY', 'zero-length frame');
    if (length > this.maxFrame) return this.fail('FRAME_TOO_LARGE', `frame of ${length} bytes exceeds ${this.maxFrame}`);
    const size = CONTROL_HEADER_LENGTH + length;
    if (this.buffered < size) return null;
    if (first.length - this.offset < size) first = this.merge();
    const start = this.offset;
    this.consume(size);
    const version = first.readUInt8(start + CONTROL_HEADER_LENGTH);
    if (version !== CONTROL_VERSION) {
      return this.fail('BAD_VERSION', `control protocol version ${version}, this side speaks ${CONTROL_VERSION}`);
    }
    try {
      return { body: JSON.parse(first.toString('utf8', start + CONTROL_HEADER_LENGTH + 1, start + size)) as unknown };
    } catch {
      return this.fail('BAD_JSON', 'frame body is not JSON');
    }
  }

  /** Everything buffered that follows the frames decoded so far (used when a connection switches to raw relay bytes). */
  takeRest(): Buffer {
    // A copy: the caller keeps it past later appends into the same read buffers.
    const rest = Buffer.from(this.held());
    this.chunks = [];
    this.offset = 0;
    this.buffered = 0;
    return rest;
  }

  private fail(error: FrameErrorCode, detail: string): FrameError {
    this.failed = { error, detail };
    this.chunks = [];
    this.offset = 0;
    this.buffered = 0;
    return this.failed;
  }

  /** The undecoded bytes as one buffer (a view when they are in one chunk). */
  private held(): Buffer {
    const first = this.chunks[0];
    if (first === undefined) return Buffer.alloc(0);
    if (this.chunks.length === 1) return first.subarray(this.offset);
    return Buffer.concat(this.chunks, this.offset + this.buffered).subarray(this.offset);
  }

  /** Joins the undecoded bytes into one chunk (a frame or header split across reads); returns it. */
  private merge(): Buffer {
    const whole = this.held();
    this.chunks = [whole];
    this.offset = 0;
    return whole;
  }

  /** Marks `n` bytes of chunks[0] decoded, dropping the chunk once all of it is. */
  private consume(n: number): void {
    this.offset += n;
    this.buffered -= n;
    if (this.offset >= at(this.chunks, 0).length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }
}

export function isFrameError(f: DecodedFrame): f is FrameError {
  return 'error' in f;
}
