/**
 * Byte readers for offsets the caller has already proved in bounds (a length
 * checked once per header or datagram). Under noUncheckedIndexedAccess a typed
 * array read is `number | undefined`; these narrow it and throw ERR_INTERNAL
 * if the proof was wrong, instead of letting `undefined` become 0 in the
 * arithmetic. In optimised code the check folds into the load's own bounds
 * check, so the hot paths (KCP input, mux decode) pay nothing for it.
 */
import { BurrowError } from '../errors.js';

function pastEnd(at: number, length: number): BurrowError {
  return new BurrowError('ERR_INTERNAL', `byte read at ${at} past the end of ${length} bytes`);
}

/** Byte `i` of `b`; the caller has checked `i < b.length`. */
export function u8(b: Uint8Array, i: number): number {
  const v = b[i];
  if (v === undefined) throw pastEnd(i, b.length);
  return v;
}

/** Big-endian u16 at `o`; the caller has checked `o + 2 <= b.length`. */
export function readU16BE(b: Uint8Array, o: number): number {
  const b0 = b[o];
  const b1 = b[o + 1];
  if (b0 === undefined || b1 === undefined) throw pastEnd(o, b.length);
  return (b0 << 8) | b1;
}

/** Little-endian u16 at `o`; the caller has checked `o + 2 <= b.length`. */
export function readU16LE(b: Uint8Array, o: number): number {
  const b0 = b[o];
  const b1 = b[o + 1];
  if (b0 === undefined || b1 === undefined) throw pastEnd(o, b.length);
  return b0 | (b1 << 8);
}

/** Big-endian u32 at `o`; the caller has checked `o + 4 <= b.length`. */
export function readU32BE(b: Uint8Array, o: number): number {
  const b0 = b[o];
  const b1 = b[o + 1];
  const b2 = b[o + 2];
  const b3 = b[o + 3];
  if (b0 === undefined || b1 === undefined || b2 === undefined || b3 === undefined) throw pastEnd(o, b.length);
  // Multiply instead of `<< 24`: a shift would make values >= 2^31 negative.
  return b0 * 0x100_0000 + ((b1 << 16) | (b2 << 8) | b3);
}

/** Little-endian u32 at `o`; the caller has checked `o + 4 <= b.length`. */
export function readU32LE(b: Uint8Array, o: number): number {
  const b0 = b[o];
  const b1 = b[o + 1];
  const b2 = b[o + 2];
  const b3 = b[o + 3];
  if (b0 === undefined || b1 === undefined || b2 === undefined || b3 === undefined) throw pastEnd(o, b.length);
  return (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0;
}

/** Little-endian u32 write at `o`; the caller has checked `o + 4 <= b.length`. */
export function writeU32LE(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}
