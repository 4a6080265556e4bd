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
  const json = Buffer.from(JSON.stringify(message), 'utf8');
  if (json.length + 1 > MAX_CONTROL_FRAME) throw new RangeError(`control message of ${json.length} bytes exceeds the cap`);
  const out = Buffer.allocUnsafe(CONTROL_HEADER_LENGTH + 1 + json.length);
  out.writeUInt32BE(json.length + 1, 0);
  out[CONTROL_HEADER_LENGTH] = CONTROL_VERSION;
  json.copy(out, CONTROL_HEADER_LENGTH + 1);
  return out;
}

/**
 * Incremental decoder: feed chunks as they arrive, in any split. After an
 * error the decoder is poisoned (the stream is out of sync; close it).
 */
export class ControlFrameDecoder {
  private chunks: Buffer[] = [];
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
    this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.buffered += chunk.length;
  }

  /**
   * The next whole frame, or null if more bytes are needed. One at a time, so
   * a consumer can stop after a frame that switches the stream to raw bytes.
   */
  next(): DecodedFrame | null {
    if (this.failed !== null) return this.failed;
    if (this.buffered < CONTROL_HEADER_LENGTH) return null;
    const length = this.peek(CONTROL_HEADER_LENGTH).readUInt32BE(0);
    if (length === 0) return this.fail('FRAME_EMPTY', 'zero-length frame');
    if (length > this.maxFrame) return this.fail('FRAME_TOO_LARGE', `frame of ${length} bytes exceeds ${this.maxFrame}`);
    if (this.buffered < CONTROL_HEADER_LENGTH + length) return null;
    const frame = this.take(CONTROL_HEADER_LENGTH + length);
    const version = frame.readUInt8(CONTROL_HEADER_LENGTH);
    if (version !== CONTROL_VERSION) {
      return this.fail('BAD_VERSION', `control protocol version ${version}, this side speaks ${CONTROL_VERSION}`);
    }
    try {
      return { body: JSON.parse(frame.toString('utf8', CONTROL_HEADER_LENGTH + 1)) as unknown };
    } catch {
      return this.fail('BAD_JSON', 'frame body is not JSON');
    }
  }

  /** Everything buffered that follows the frames decoded so far (used when a connection switches to raw relay bytes). */
  takeRest(): Buffer {
    const rest = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [];
    this.buffered = 0;
    return rest;
  }

  private fail(error: FrameErrorCode, detail: string): FrameError {
    this.failed = { error, detail };
    this.chunks = [];
    this.buffered = 0;
    return this.failed;
  }

  private peek(n: number): Buffer {
    const first = at(this.chunks, 0);
    if (first.length >= n) return first;
    return Buffer.concat(this.chunks, this.buffered).subarray(0, n);
  }

  private take(n: number): Buffer {
    let whole = this.chunks.length === 1 ? at(this.chunks, 0) : Buffer.concat(this.chunks, this.buffered);
    const frame = whole.subarray(0, n);
    whole = whole.subarray(n);
    this.chunks = whole.length > 0 ? [whole] : [];
    this.buffered = whole.length;
    return frame;
  }
}

export function isFrameError(f: DecodedFrame): f is FrameError {
  return 'error' in f;
}
