/**
 * KCP segment codec. The wire format is the one ikcp and kcp-go speak: a
 * 24-byte little-endian header followed by `len` payload bytes, and one
 * datagram may carry several segments back to back.
 *
 *   offset 0  conv u32   conversation id
 *          4  cmd  u8    PUSH 81, ACK 82, WASK 83, WINS 84
 *          5  frg  u8    fragments still to come in this message (0 = last)
 *          6  wnd  u16   sender's free receive window, in segments
 *          8  ts   u32   send time (an ACK echoes the acked segment's ts)
 *         12  sn   u32   sequence number (an ACK carries the acked sn)
 *         16  una  u32   next sn the sender of this segment expects
 *         20  len  u32   payload length
 */
import { BurrowError } from '../errors.js';
import { readU16LE, readU32LE, u8, writeU32LE } from '../util/bytes.js';
import { isU32 } from './seq.js';

export const KCP_OVERHEAD = 24;

export const KCP_CMD_PUSH = 81;
export const KCP_CMD_ACK = 82;
export const KCP_CMD_WASK = 83;
export const KCP_CMD_WINS = 84;

export type KcpCommand = typeof KCP_CMD_PUSH | typeof KCP_CMD_ACK | typeof KCP_CMD_WASK | typeof KCP_CMD_WINS;

export function isKcpCommand(cmd: number): cmd is KcpCommand {
  return cmd >= KCP_CMD_PUSH && cmd <= KCP_CMD_WINS;
}

/** One decoded (or to-be-encoded) segment; `len` on the wire is `data.length`. */
export interface KcpSegment {
  conv: number;
  cmd: KcpCommand;
  frg: number;
  wnd: number;
  ts: number;
  sn: number;
  una: number;
  data: Uint8Array;
}

/**
 * Writes one header at `o`. Unchecked: the connection's hot path calls this
 * with values it already keeps in range.
 */
export function writeHeader(
  b: Uint8Array,
  o: number,
  conv: number,
  cmd: number,
  frg: number,
  wnd: number,
  ts: number,
  sn: number,
  una: number,
  len: number,
): void {
  writeU32LE(b, o, conv);
  b[o + 4] = cmd;
  b[o + 5] = frg;
  b[o + 6] = wnd;
  b[o + 7] = wnd >>> 8;
  writeU32LE(b, o + 8, ts);
  writeU32LE(b, o + 12, sn);
  writeU32LE(b, o + 16, una);
  writeU32LE(b, o + 20, len);
}

function checkSegment(seg: KcpSegment): void {
  const ok =
    isU32(seg.conv) &&
    isKcpCommand(seg.cmd) &&
    Number.isInteger(seg.frg) &&
    seg.frg >= 0 &&
    seg.frg <= 0xff &&
    Number.isInteger(seg.wnd) &&
    seg.wnd >= 0 &&
    seg.wnd <= 0xffff &&
    isU32(seg.ts) &&
    isU32(seg.sn) &&
    isU32(seg.una);
  if (!ok) throw new BurrowError('ERR_INVALID_ARGUMENT', 'KCP segment field out of range');
}

/** Bytes `seg` takes on the wire. */
export function encodedSize(seg: KcpSegment): number {
  return KCP_OVERHEAD + seg.data.length;
}

/**
 * Encodes `seg` into `out` at `offset` and returns the offset after it.
 * Throws ERR_INVALID_ARGUMENT for out-of-range fields or too small a buffer.
 */
export function encodeSegment(seg: KcpSegment, out: Uint8Array, offset: number): number {
  checkSegment(seg);
  const end = offset + encodedSize(seg);
  if (!Number.isInteger(offset) || offset < 0 || end > out.length) {
    throw new BurrowError('ERR_INVALID_ARGUMENT', 'KCP segment does not fit in the output buffer');
  }
  writeHeader(out, offset, seg.conv, seg.cmd, seg.frg, seg.wnd, seg.ts, seg.sn, seg.una, seg.data.length);
  out.set(seg.data, offset + KCP_OVERHEAD);
  return end;
}

/** Encodes several segments into one datagram (no MTU limit is applied). */
export function encodeSegments(segs: readonly KcpSegment[]): Buffer {
  let size = 0;
  for (const s of segs) size += encodedSize(s);
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (const s of segs) o = encodeSegment(s, out, o);
  return out;
}

/**
 * Decodes every segment of a datagram. Returns null when the datagram is not
 * a well-formed sequence of segments (empty, a truncated header, a length
 * running past the end, an unknown command). Never throws. Payloads are views
 * of `datagram`, not copies.
 */
export function decodeSegments(datagram: Uint8Array): KcpSegment[] | null {
  const n = datagram.length;
  if (n < KCP_OVERHEAD) return null;
  const segs: KcpSegment[] = [];
  let o = 0;
  while (o < n) {
    if (n - o < KCP_OVERHEAD) return null;
    const cmd = u8(datagram, o + 4);
    if (!isKcpCommand(cmd)) return null;
    const len = readU32LE(datagram, o + 20);
    if (len > n - o - KCP_OVERHEAD) return null;
    segs.push({
      conv: readU32LE(datagram, o),
      cmd,
      frg: u8(datagram, o + 5),
      wnd: readU16LE(datagram, o + 6),
      ts: readU32LE(datagram, o + 8),
      sn: readU32LE(datagram, o + 12),
      una: readU32LE(datagram, o + 16),
      data: datagram.subarray(o + KCP_OVERHEAD, o + KCP_OVERHEAD + len),
    });
    o += KCP_OVERHEAD + len;
  }
  return segs;
}
