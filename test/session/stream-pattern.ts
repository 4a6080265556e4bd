/** Test stream contents for the byte ledger: every byte depends on its offset. */

/** Stream byte at `offset`: a hash, so a shifted, repeated or reordered byte shows. */
export function byteAt(offset: number): number {
  return (Math.imul(offset ^ (offset >>> 13), 0x9e3779b1) >>> 24) & 0xff;
}

/** `length` stream bytes starting at offset `from`. */
export function pattern(from: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = byteAt(from + i);
  return b;
}
