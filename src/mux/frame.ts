/**
 * Pure frame codec: bytes <-> frames, no session state, no I/O.
 *
 * The decoder is the attack surface (it eats whatever the peer sends), so it
 * never throws: malformed input yields a typed FrameError and the decoder
 * stays failed. It also never buffers more than one frame's worth of bytes
 * (12 + maxPayload): a header declaring a bigger DATA payload is refused as
 * soon as its 12 bytes are complete, before a single payload byte is kept.
 */
import { BurrowError } from '../errors.js';
import { readU16BE, readU32BE, u8 } from '../util/bytes.js';
import {
  FrameType,
  HEADER_LENGTH,
  KNOWN_FLAGS,
  MAX_U32,
  MUX_VERSION,
} from './protocol.js';

export interface DataFrame {
  readonly type: typeof FrameType.Data;
  readonly flags: number;
  readonly streamId: number;
  /** A copy, or a view of the pushed chunk when it fills most of it (see FrameDecoder). */
  readonly payload: Uint8Array;
}

/** WINDOW_UPDATE, PING, GO_AWAY: no payload, the length field is a value. */
export interface ControlFrame {
  readonly type: Exclude<FrameType, typeof FrameType.Data>;
  readonly flags: number;
  readonly streamId: number;
  /** Window delta / reset reason, ping opaque value, or go-away code. */
  readonly value: number;
}

export type Frame = DataFrame | ControlFrame;

export type FrameErrorKind = 'bad-version' | 'unknown-type' | 'unknown-flags' | 'payload-too-large';

export interface FrameError {
  readonly kind: FrameErrorKind;
  readonly message: string;
}

export interface DecodeResult {
  /** Complete frames, in wire order (also those preceding an error). */
  readonly frames: Frame[];
  /** Set once the input is malformed; every later push returns it again. */
  readonly error: FrameError | null;
}

const EMPTY = new Uint8Array(0);

function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > MAX_U32) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `${name} must be a u32, got ${v}`);
  }
}

/** Writes a 12-byte header at `off`. No validation: callers pass checked values. */
export function writeHeader(
  out: Uint8Array,
  off: number,
  type: FrameType,
  flags: number,
  streamId: number,
  length: number,
): void {
  out[off] = MUX_VERSION;
  out[off + 1] = type;
  out[off + 2] = flags >>> 8;
  out[off + 3] = flags & 0xff;
  out[off + 4] = streamId >>> 24;
  out[off + 5] = (streamId >>> 16) & 0xff;
  out[off + 6] = (streamId >>> 8) & 0xff;
  out[off + 7] = streamId & 0xff;
  out[off + 8] = length >>> 24;
  out[off + 9] = (length >>> 16) & 0xff;
  out[off + 10] = (length >>> 8) & 0xff;
  out[off + 11] = length & 0xff;
}

/**
 * One allocation for header + payload, so the transport receives a single
 * buffer it may keep (the mux never touches it again) and a frame can never
 * be split by a back-pressure signal between its header and its payload.
 */
export function encodeData(flags: number, streamId: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + payload.byteLength);
  writeHeader(out, 0, FrameType.Data, flags, streamId, payload.byteLength);
  out.set(payload, HEADER_LENGTH);
  return out;
}

export function encodeControl(
  type: Exclude<FrameType, typeof FrameType.Data>,
  flags: number,
  streamId: number,
  value: number,
): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH);
  writeHeader(out, 0, type, flags, streamId, value);
  return out;
}

/** Checked encoder for any frame (tests, tools). Throws on out-of-range fields. */
export function encodeFrame(frame: Frame): Buffer {
  if (!Number.isInteger(frame.flags) || frame.flags < 0 || frame.flags > 0xffff) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', `flags must be a u16, got ${frame.flags}`);
  }
  checkU32('streamId', frame.streamId);
  if (frame.type === FrameType.Data) {
    checkU32('payload length', frame.payload.byteLength);
    return encodeData(frame.flags, frame.streamId, frame.payload);
  }
  checkU32('value', frame.value);
  return encodeControl(frame.type, frame.flags, frame.streamId, frame.value);
}

/**
 * Incremental decoder: feed chunks split anywhere, get whole frames back.
 *
 * Buffer ownership: a DATA payload that lies wholly inside one pushed chunk
 * and fills at least half of that chunk's underlying ArrayBuffer is returned
 * as a view (zero copy: this is most of the bulk-transfer cost); any other
 * payload is copied. So the caller must not modify or reuse a chunk after
 * pushing it (the same contract as KCP's input()), and a queued payload pins
 * at most twice its own size: a small payload never keeps a big chunk alive.
 */
export class FrameDecoder {
  readonly maxPayload: number;
  private readonly header = new Uint8Array(HEADER_LENGTH);
  private headerFill = 0;
  /** Header of the DATA frame whose payload is being collected. */
  private partFlags = 0;
  private partStream = 0;
  private part: Buffer | null = null;
  private partFill = 0;
  private failure: FrameError | null = null;

  constructor(maxPayload: number) {
    if (!Number.isInteger(maxPayload) || maxPayload < 0 || maxPayload > MAX_U32) {
      throw new BurrowError('ERR_INVALID_ARGUMENT', `maxPayload must be a u32, got ${maxPayload}`);
    }
    this.maxPayload = maxPayload;
  }

  get error(): FrameError | null {
    return this.failure;
  }

  /** Bytes held for an incomplete frame; never more than 12 + maxPayload. */
  get bufferedBytes(): number {
    return this.headerFill + this.partFill;
  }

  push(chunk: Uint8Array): DecodeResult {
    const frames: Frame[] = [];
    if (this.failure !== null) return { frames, error: this.failure };
    const len = chunk.byteLength;
    let pos = 0;
    while (pos < len) {
      if (this.part !== null) {
        const take = Math.min(this.part.byteLength - this.partFill, len - pos);
        this.part.set(chunk.subarray(pos, pos + take), this.partFill);
        this.partFill += take;
        pos += take;
        if (this.partFill === this.part.byteLength) {
          frames.push({ type: FrameType.Data, flags: this.partFlags, streamId: this.partStream, payload: this.part });
          this.part = null;
          this.partFill = 0;
        }
        continue;
      }

      let h: Uint8Array;
      let hOff: number;
      if (this.headerFill === 0 && len - pos >= HEADER_LENGTH) {
        // Fast path: parse straight from the chunk, no staging copy.
        h = chunk;
        hOff = pos;
        pos += HEADER_LENGTH;
      } else {
        const take = Math.min(HEADER_LENGTH - this.headerFill, len - pos);
        this.header.set(chunk.subarray(pos, pos + take), this.headerFill);
        this.headerFill += take;
        pos += take;
        if (this.headerFill < HEADER_LENGTH) break;
        this.headerFill = 0;
        h = this.header;
        hOff = 0;
      }

      // h holds HEADER_LENGTH bytes from hOff (both branches above).
      const version = u8(h, hOff);
      const type = u8(h, hOff + 1);
      const flags = readU16BE(h, hOff + 2);
      const streamId = readU32BE(h, hOff + 4);
      const length = readU32BE(h, hOff + 8);
      if (version !== MUX_VERSION) {
        return this.fail(frames, 'bad-version', `unsupported mux version ${version} (expected ${MUX_VERSION})`);
      }
      if (type > FrameType.GoAway) {
        return this.fail(frames, 'unknown-type', `unknown frame type ${type}`);
      }
      if ((flags & ~KNOWN_FLAGS) !== 0) {
        return this.fail(frames, 'unknown-flags', `unknown flag bits 0x${flags.toString(16)} on stream ${streamId}`);
      }
      if (type !== FrameType.Data) {
        frames.push({ type: type as ControlFrame['type'], flags, streamId, value: length });
        continue;
      }
      if (length > this.maxPayload) {
        return this.fail(
          frames,
          'payload-too-large',
          `DATA frame on stream ${streamId} declares ${length} bytes, cap is ${this.maxPayload}`,
        );
      }
      if (length === 0) {
        frames.push({ type: FrameType.Data, flags, streamId, payload: EMPTY });
      } else if (len - pos >= length) {
        let payload: Uint8Array;
        if (length * 2 >= chunk.buffer.byteLength) {
          payload = chunk.subarray(pos, pos + length);
        } else {
          // Unpooled: a small pooled Buffer is a slice of a shared 8 KiB slab
          // and would pin the whole slab while it waits in a stalled queue.
          payload = Buffer.allocUnsafeSlow(length);
          payload.set(chunk.subarray(pos, pos + length));
        }
        pos += length;
        frames.push({ type: FrameType.Data, flags, streamId, payload });
      } else {
        // Bounded by maxPayload, checked above.
        this.part = Buffer.allocUnsafeSlow(length);
        this.partFill = 0;
        this.partFlags = flags;
        this.partStream = streamId;
      }
    }
    return { frames, error: null };
  }

  private fail(frames: Frame[], kind: FrameErrorKind, message: string): DecodeResult {
    this.failure = { kind, message };
    // Drop partial state: nothing after a malformed header can be trusted.
    this.headerFill = 0;
    this.part = null;
    this.partFill = 0;
    return { frames, error: this.failure };
  }
}
