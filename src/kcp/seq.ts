/**
 * Sequence numbers and KCP timestamps are u32 values that wrap at 2^32.
 * Ordering is decided by the signed 32-bit difference, as in ikcp, so the
 * comparisons stay correct across the wrap as long as the two values are
 * less than 2^31 apart.
 */

/** Signed distance `a - b` on the u32 circle: > 0 when `a` is after `b`. */
export function diff32(a: number, b: number): number {
  return (a - b) | 0;
}

/** `a + n` wrapped to u32. */
export function add32(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** Any JS number (a clock reading, a possibly negative integer) as u32. */
export function toU32(x: number): number {
  return x >>> 0;
}

/** True when `x` is an integer in [0, 2^32). */
export function isU32(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
}
