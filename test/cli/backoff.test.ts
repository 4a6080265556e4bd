import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Backoff } from '../../peer/backoff.js';

describe('Backoff', () => {
  it('with random = 1 it doubles from base up to the cap and stays there', () => {
    const b = new Backoff(500, 10_000, () => 1);
    const seq = Array.from({ length: 9 }, () => b.next());
    assert.deepEqual(seq, [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000, 10_000]);
  });

  it('uses the defaults 500 ms base and 10 s cap', () => {
    const b = new Backoff(undefined, undefined, () => 1);
    const seq = Array.from({ length: 7 }, () => b.next());
    assert.deepEqual(seq, [500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it('never returns less than base/4, even when random() is 0', () => {
    const b = new Backoff(400, 10_000, () => 0);
    for (let i = 0; i < 10; i++) assert.equal(b.next(), 100);
  });

  it('applies full jitter: random() scales the ceiling', () => {
    const b = new Backoff(1000, 60_000, () => 0.5);
    assert.deepEqual([b.next(), b.next(), b.next()], [500, 1000, 2000]);
  });

  it('reset() starts over from base', () => {
    const b = new Backoff(500, 10_000, () => 1);
    for (let i = 0; i < 6; i++) b.next();
    assert.equal(b.next(), 10_000);
    b.reset();
    assert.deepEqual([b.next(), b.next()], [500, 1000]);
  });

  it('stays finite after very many failures', () => {
    const b = new Backoff(1, Number.MAX_SAFE_INTEGER, () => 1);
    let last = 0;
    for (let i = 0; i < 2000; i++) last = b.next();
    assert.ok(Number.isFinite(last));
    assert.equal(last, 2 ** 20);
  });

  it('property: each delay is within [base/4, min(cap, base * 2^n)] for any random() in [0, 1)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 40 }),
        (base, cap, randoms) => {
          let i = 0;
          const b = new Backoff(base, cap, () => randoms[i++ % randoms.length]!);
          for (let n = 0; n < randoms.length; n++) {
            const d = b.next();
            const ceiling = Math.min(cap, base * 2 ** n);
            assert.ok(d >= base / 4, `delay ${d} < base/4`);
            assert.ok(d <= Math.max(base / 4, ceiling), `delay ${d} above ceiling ${ceiling}`);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
