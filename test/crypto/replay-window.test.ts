import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ReplayVerdict, ReplayWindow, type ReplayVerdictValue } from '../../src/crypto/index.js';
import { isBurrowError } from '../../src/errors.js';

/** Obviously-correct model: remembers every accepted counter. */
class ModelWindow {
  private readonly seen = new Set<number>();
  private top = -1;
  constructor(private readonly size: number) {}
  verdict(c: number): ReplayVerdictValue {
    if (c > this.top) return ReplayVerdict.Fresh;
    if (this.top - c >= this.size) return ReplayVerdict.TooOld;
    return this.seen.has(c) ? ReplayVerdict.Replayed : ReplayVerdict.Fresh;
  }
  commit(c: number): void {
    this.seen.add(c);
    if (c > this.top) this.top = c;
  }
}

describe('ReplayWindow', () => {
  it('accepts new counters once, rejects replays and counters older than the window', () => {
    const w = new ReplayWindow(64);
    assert.equal(w.check(0), true);
    w.commit(0);
    assert.equal(w.check(0), false);
    assert.equal(w.verdict(0), ReplayVerdict.Replayed);
    w.commit(100);
    assert.equal(w.highest, 100);
    assert.equal(w.verdict(36), ReplayVerdict.TooOld); // 100 - 36 = 64: outside
    assert.equal(w.verdict(37), ReplayVerdict.Fresh); // 63 behind: inside
    w.commit(37);
    assert.equal(w.verdict(37), ReplayVerdict.Replayed);
    assert.equal(w.verdict(99), ReplayVerdict.Fresh);
    assert.equal(w.verdict(100), ReplayVerdict.Replayed);
  });

  it('check does not record; only commit does', () => {
    const w = new ReplayWindow(32);
    assert.equal(w.check(5), true);
    assert.equal(w.check(5), true);
    assert.equal(w.highest, -1);
    w.commit(5);
    assert.equal(w.check(5), false);
  });

  it('forgets old bits when jumping far ahead, so reused ring slots read as fresh', () => {
    const w = new ReplayWindow(64);
    for (let c = 0; c < 64; c++) w.commit(c);
    w.commit(10_000);
    for (let c = 10_000 - 63; c < 10_000; c++) assert.equal(w.verdict(c), ReplayVerdict.Fresh, `counter ${c}`);
    assert.equal(w.verdict(10_000 - 64), ReplayVerdict.TooOld);
  });

  it('handles counters near 2^53 exactly', () => {
    const w = new ReplayWindow(2048);
    const big = 2 ** 53 - 1;
    w.commit(big - 5);
    w.commit(big);
    assert.equal(w.verdict(big - 5), ReplayVerdict.Replayed);
    assert.equal(w.verdict(big - 4), ReplayVerdict.Fresh);
    assert.equal(w.verdict(big - 2048), ReplayVerdict.TooOld);
    assert.equal(w.verdict(big - 2047), ReplayVerdict.Fresh);
  });

  it('rejects bad sizes', () => {
    for (const size of [0, -1, 1.5, Number.NaN, 2 ** 21]) {
      assert.throws(() => new ReplayWindow(size), (e: unknown) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'));
    }
  });

  it('agrees with a set-based model on random counter streams', () => {
    const step = fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: -80, max: 80 }) }, // local reordering
      { weight: 1, arbitrary: fc.integer({ min: -5000, max: 5000 }) }, // far jumps
    );
    fc.assert(
      fc.property(
        fc.constantFrom(1, 31, 32, 33, 64, 100, 2048),
        fc.constantFrom(0, 2 ** 32 - 100, 2 ** 48 - 10_000),
        fc.array(fc.tuple(step, fc.boolean()), { maxLength: 300 }),
        (size, base, steps) => {
          const w = new ReplayWindow(size);
          const m = new ModelWindow(size);
          let c = base + 6000;
          for (const [delta, authentic] of steps) {
            c = Math.max(0, c + delta);
            const expected = m.verdict(c);
            assert.equal(w.verdict(c), expected, `size ${size} counter ${c}`);
            assert.equal(w.check(c), expected === ReplayVerdict.Fresh);
            // Only authenticated packets are committed.
            if (expected === ReplayVerdict.Fresh && authentic) {
              w.commit(c);
              m.commit(c);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
