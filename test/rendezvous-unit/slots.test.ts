import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SlotPool, type Slot } from '../../rendezvous/slots.js';

describe('SlotPool (the rendezvous\'s unauthenticated connections)', () => {
  it('hands out at most `capacity` slots; a released slot can be taken again', () => {
    const pool = new SlotPool(2);
    const a = pool.acquire();
    const b = pool.acquire();
    assert.ok(a && b);
    assert.equal(pool.acquire(), null);
    assert.equal(pool.inUse, 2);
    a.release();
    assert.equal(pool.inUse, 1);
    assert.ok(pool.acquire());
    assert.equal(pool.acquire(), null);
  });

  it('releasing a slot twice (login, then close) gives it back once: the count cannot drift', () => {
    const pool = new SlotPool(3);
    const a = pool.acquire()!;
    pool.acquire();
    a.release();
    a.release();
    a.release();
    assert.equal(pool.inUse, 1);
  });

  it('whatever the order of acquires and (repeated) releases, inUse is the number of slots not yet released', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8 }), fc.array(fc.tuple(fc.boolean(), fc.nat(20)), { maxLength: 200 }), (capacity, ops) => {
        const pool = new SlotPool(capacity);
        const held: { slot: Slot; released: boolean }[] = [];
        for (const [take, i] of ops) {
          if (take) {
            const s = pool.acquire();
            const live = held.filter((h) => !h.released).length;
            assert.equal(s === null, live >= capacity);
            if (s) held.push({ slot: s, released: false });
          } else if (held.length > 0) {
            const h = held[i % held.length]!;
            h.slot.release();
            h.released = true;
          }
          assert.equal(pool.inUse, held.filter((h) => !h.released).length);
          assert.ok(pool.inUse <= capacity);
        }
      }),
    );
  });
});
