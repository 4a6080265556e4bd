/** Smallest power of two >= max(n, 16); ring sizes use it so `sn & mask` indexes them across the u32 wrap. */
export function ringCapacity(n: number): number {
  let cap = 16;
  while (cap < n) cap *= 2;
  return cap;
}
