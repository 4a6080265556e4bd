import { BurrowError } from '../errors.js';

/** What a replay window says about a received counter. */
export const ReplayVerdict = {
  /** Not seen yet and not older than the window: go on and authenticate it. */
  Fresh: 0,
  /** Already accepted once. */
  Replayed: 1,
  /** At least `size` below the highest accepted counter: can't tell, reject. */
  TooOld: 2,
} as const;
export type ReplayVerdictValue = (typeof ReplayVerdict)[keyof typeof ReplayVerdict];

/** Largest window accepted, so the bitmap stays small (128 KiB at most). */
export const MAX_REPLAY_WINDOW = 2 ** 20;

/**
 * Sliding anti-replay window over packet counters (RFC 6479 style).
 *
 * Remembers which of the `size` counters ending at the highest accepted one
 * have been seen, in a ring of 32-bit blocks: one spare block beyond `size`,
 * rounded up to a power of two, so moving forward only clears whole blocks.
 * O(1) per packet (advancing clears at most the ring once), fixed memory.
 *
 * Use `check` (or `verdict`) before authenticating a packet and `commit` only
 * after it authenticated, so a forged packet can't move the window.
 * Counters are non-negative safe integers (< 2^53).
 */
export class ReplayWindow {
  readonly size: number;
  private readonly bits: Uint32Array;
  private readonly mask: number;
  /** Highest committed counter, -1 before the first commit. */
  private top = -1;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1 || size > MAX_REPLAY_WINDOW) {
      throw new BurrowError(
        'ERR_INVALID_ARGUMENT',
        `replay window size must be an integer in 1..${MAX_REPLAY_WINDOW}, got ${size}`,
      );
    }
    this.size = size;
    let blocks = 1;
    while (blocks < Math.ceil(size / 32) + 1) blocks *= 2;
    this.bits = new Uint32Array(blocks);
    this.mask = blocks - 1;
  }

  /** Highest counter committed so far, or -1. */
  get highest(): number {
    return this.top;
  }

  /** True if `counter` is new and within the window. Does not record it. */
  check(counter: number): boolean {
    return this.verdict(counter) === ReplayVerdict.Fresh;
  }

  /** Like `check`, but tells a replay from a counter that fell out of the window. */
  verdict(counter: number): ReplayVerdictValue {
    if (counter > this.top) return ReplayVerdict.Fresh;
    if (this.top - counter >= this.size) return ReplayVerdict.TooOld;
    // `>>> 5` and `& 31` see the low 32 bits of the counter, which is all the
    // ring index needs: the ring has at most 2^16 blocks.
    const seen = this.block((counter >>> 5) & this.mask) & (1 << (counter & 31));
    return seen === 0 ? ReplayVerdict.Fresh : ReplayVerdict.Replayed;
  }

  /** Records `counter` as accepted (call only after authentication). */
  commit(counter: number): void {
    if (counter > this.top) {
      const blocks = this.mask + 1;
      const advance = this.top < 0 ? blocks : Math.floor(counter / 32) - Math.floor(this.top / 32);
      if (advance >= blocks) {
        this.bits.fill(0);
      } else {
        const from = this.top >>> 5;
        for (let i = 1; i <= advance; i++) this.bits[(from + i) & this.mask] = 0;
      }
      this.top = counter;
    } else if (this.top - counter >= this.size) {
      return;
    }
    const j = (counter >>> 5) & this.mask;
    this.bits[j] = this.block(j) | (1 << (counter & 31));
  }

  /** Ring block `j`; every `x & mask` is one, so the throw marks a bug, not input. */
  private block(j: number): number {
    const b = this.bits[j];
    if (b === undefined) throw new BurrowError('ERR_INTERNAL', `replay window block ${j} out of range`);
    return b;
  }
}
