import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ByteLedger, GAP, LEDGER_POLICY } from '../../src/session/byte-ledger.js';
import { isBurrowError } from '../../src/errors.js';
import { pattern } from './stream-pattern.js';

/** Big enough to be kept as its own chunk rather than copied into a block. */
const BIG = LEDGER_POLICY.coalesceBelow;

describe('ByteLedger: sending', () => {
  it('numbers writes by offset and hands them out from the cursor', () => {
    const l = new ByteLedger();
    const a = pattern(0, 3 * BIG);
    assert.equal(l.write(a), true);
    assert.equal(l.written, 3 * BIG);
    assert.equal(l.unsent, 3 * BIG);
    assert.equal(l.retained, 3 * BIG);
    const p1 = l.pollData(BIG);
    assert.equal(p1?.offset, 0);
    assert.equal(p1?.bytes.buffer, a.buffer, 'a subarray of the written chunk, not a copy');
    assert.deepEqual(p1?.bytes, a.subarray(0, BIG));
    assert.equal(l.unsent, 2 * BIG);
    const p2 = l.pollData(10 * BIG);
    assert.equal(p2?.offset, BIG);
    assert.deepEqual(p2?.bytes, a.subarray(BIG));
    assert.equal(l.pollData(100), null);
    assert.equal(l.unsent, 0);
    assert.equal(l.retained, 3 * BIG, 'handing out frees nothing: only an ACK does');
  });

  it('joins small chunks into one copy, and keeps a chunk whole when it is at least half a frame', () => {
    const l = new ByteLedger();
    const a = pattern(0, BIG);
    const b = pattern(BIG, 2 * BIG);
    l.write(a);
    l.write(b);
    // a has BIG left, under half of 2.5 * BIG: joined with the start of b in a copy.
    const joined = l.pollData(2.5 * BIG);
    assert.equal(joined?.offset, 0);
    assert.equal(joined?.bytes.length, 2.5 * BIG);
    assert.deepEqual(joined?.bytes, pattern(0, 2.5 * BIG));
    assert.notEqual(joined?.bytes.buffer, a.buffer);
    // BIG / 2 of b left, ask for BIG: half or more left, so a subarray of b.
    const rest = l.pollData(BIG);
    assert.equal(rest?.offset, 2.5 * BIG);
    assert.equal(rest?.bytes.buffer, b.buffer);
    assert.deepEqual(rest?.bytes, pattern(2.5 * BIG, BIG / 2));
    assert.equal(l.pollData(BIG), null);
  });

  it('copies small writes into shared blocks so many tiny writes stay few chunks', () => {
    const l = new ByteLedger();
    let off = 0;
    for (let i = 0; i < 5000; i++) {
      const n = 1 + (i % 30);
      l.write(pattern(off, n));
      off += n;
    }
    assert.equal(l.written, off);
    assert.ok(l.retainedChunks <= Math.ceil(off / LEDGER_POLICY.blockSize) + 1, `${l.retainedChunks} chunks`);
    const out: Buffer[] = [];
    for (let p = l.pollData(3000); p !== null; p = l.pollData(3000)) out.push(p.bytes);
    assert.deepEqual(Buffer.concat(out), pattern(0, off));
  });

  it('a small write after the cursor reached the end is still handed out (the block grows under the cursor)', () => {
    const l = new ByteLedger();
    l.write(pattern(0, 10));
    assert.deepEqual(l.pollData(100)?.bytes, pattern(0, 10));
    l.write(pattern(10, 5));
    const p = l.pollData(100);
    assert.equal(p?.offset, 10);
    assert.deepEqual(p?.bytes, pattern(10, 5));
    l.onAck(12); // trims the block's chunk; the next small write must extend it correctly
    l.write(pattern(15, 7));
    l.rewind();
    assert.deepEqual(l.pollData(100), { offset: 12, bytes: pattern(12, 10) });
  });

  it('frees acknowledged chunks and keeps the tail of a partly acknowledged one', () => {
    const l = new ByteLedger();
    l.write(pattern(0, 2000));
    l.write(pattern(2000, 2000));
    l.write(pattern(4000, 2000));
    while (l.pollData(700) !== null);
    assert.equal(l.onAck(2500), true);
    assert.equal(l.acknowledged, 2500);
    assert.equal(l.retained, 3500);
    assert.equal(l.retainedChunks, 2);
    assert.equal(l.unsent, 0);
    l.rewind();
    assert.equal(l.unsent, 3500);
    assert.deepEqual(l.pollData(3000), { offset: 2500, bytes: pattern(2500, 1500) });
    assert.deepEqual(l.pollData(6000), { offset: 4000, bytes: pattern(4000, 2000) });
    assert.equal(l.onAck(6000), true);
    assert.equal(l.retained, 0);
    assert.equal(l.retainedChunks, 0);
  });

  it('rewind resends everything unacknowledged, from the acknowledged offset', () => {
    const l = new ByteLedger();
    l.write(pattern(0, 5000));
    l.pollData(1500);
    l.pollData(1500);
    l.onAck(1000);
    l.rewind();
    assert.equal(l.unsent, 4000);
    const got: Buffer[] = [];
    let next = 1000;
    for (let p = l.pollData(1200); p !== null; p = l.pollData(1200)) {
      assert.equal(p.offset, next);
      next += p.bytes.length;
      got.push(p.bytes);
    }
    assert.deepEqual(Buffer.concat(got), pattern(1000, 4000));
  });

  it('an ACK beyond the cursor (late, from the old transport) moves the cursor past what it covers', () => {
    const l = new ByteLedger();
    l.write(pattern(0, 3000));
    l.write(pattern(3000, 3000));
    l.pollData(6000);
    l.pollData(6000);
    l.rewind();
    assert.equal(l.pollData(500)?.offset, 0);
    assert.equal(l.onAck(4000), true);
    assert.equal(l.unsent, 2000);
    assert.deepEqual(l.pollData(6000), { offset: 4000, bytes: pattern(4000, 2000) });
  });

  it('signals capacity: write returns false at or over it but keeps the bytes; an ACK makes it writable again', () => {
    const l = new ByteLedger({ capacity: 4096 });
    assert.equal(l.write(pattern(0, 4095)), true);
    assert.equal(l.writable, true);
    assert.equal(l.write(pattern(4095, 1)), false);
    assert.equal(l.writable, false);
    assert.equal(l.retained, 4096);
    assert.equal(l.write(pattern(4096, 2000)), false, 'accepted even when over');
    assert.equal(l.written, 6096);
    assert.equal(l.write(Buffer.alloc(0)), false, 'an empty write changes nothing and reports the same');
    l.pollData(10_000);
    l.pollData(10_000);
    l.onAck(2000);
    assert.equal(l.retained, 4096);
    assert.equal(l.writable, false);
    l.onAck(2001);
    assert.equal(l.writable, true);
  });

  it('refuses a broken ACK and changes nothing', () => {
    const l = new ByteLedger();
    l.write(pattern(0, 3000));
    l.pollData(1000);
    l.onAck(500);
    const before = { acked: l.acknowledged, retained: l.retained, unsent: l.unsent, chunks: l.retainedChunks };
    for (const bad of [3001, 2 ** 53, Number.MAX_VALUE, -1, 1.5, Number.NaN, Infinity]) {
      assert.equal(l.onAck(bad), false, `onAck(${bad})`);
    }
    assert.deepEqual(
      { acked: l.acknowledged, retained: l.retained, unsent: l.unsent, chunks: l.retainedChunks },
      before,
    );
    assert.equal(l.onAck(200), true, 'an old ACK is fine, just ignored');
    assert.equal(l.acknowledged, 500);
    l.rewind();
    assert.deepEqual(l.pollData(100), { offset: 500, bytes: pattern(500, 100) });
  });

  it('stays right across many acknowledged chunks (slot compaction)', () => {
    const l = new ByteLedger({ capacity: 1 << 30 });
    const size = BIG + 3;
    const count = 5000;
    for (let i = 0; i < count; i++) l.write(pattern(i * size, size));
    let acked = 0;
    let expect = 0;
    for (let round = 0; l.unsent > 0 && round < 100_000; round++) {
      const p = l.pollData(2500);
      assert.ok(p);
      assert.equal(p.offset, expect);
      assert.deepEqual(p.bytes, pattern(p.offset, p.bytes.length));
      expect += p.bytes.length;
      if (round % 3 === 0) {
        acked = Math.max(acked, expect - 4000);
        l.onAck(acked);
      }
      if (round % 997 === 0) {
        l.rewind();
        expect = acked;
      }
    }
    assert.equal(expect, count * size);
    l.onAck(count * size);
    assert.equal(l.retainedChunks, 0);
  });

  it('validates its arguments', () => {
    for (const opts of [{ capacity: 0 }, { capacity: 1.5 }, { ackEvery: 0 }, { ackDelayMs: -1 }, { ackDelayMs: Number.NaN }]) {
      assert.throws(() => new ByteLedger(opts), (e: unknown) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'));
    }
    const l = new ByteLedger();
    for (const bad of [0, -1, 0.5]) {
      assert.throws(() => l.pollData(bad), (e: unknown) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'));
    }
  });
});

describe('ByteLedger: receiving', () => {
  it('delivers new bytes, trims what it already has, drops full duplicates, refuses a gap', () => {
    const l = new ByteLedger();
    const first = pattern(0, 100);
    const got = l.onData(0, first, 0);
    assert.equal(got, first, 'new bytes come back as they are');
    assert.equal(l.delivered, 100);
    const overlap = pattern(50, 100);
    const trimmed = l.onData(50, overlap, 0);
    assert.ok(Buffer.isBuffer(trimmed));
    assert.equal(trimmed.buffer, overlap.buffer, 'a subarray, not a copy');
    assert.deepEqual(trimmed, pattern(100, 50));
    assert.equal(l.delivered, 150);
    assert.equal(l.onData(0, pattern(0, 150), 0), null);
    assert.equal(l.onData(150, Buffer.alloc(0), 0), null);
    assert.equal(l.onData(151, pattern(151, 10), 0), GAP);
    assert.equal(l.delivered, 150, 'nothing changes on GAP');
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) assert.equal(l.onData(bad, pattern(0, 1), 0), GAP);
    assert.equal(l.pollAck(1), null, 'a GAP or a duplicate sets no ACK timer of its own');
  });

  it('refuses data whose end would pass 2^53', () => {
    const l = new ByteLedger();
    assert.equal(l.onData(0, Buffer.alloc(10), 0) !== GAP, true);
    // Only reachable at offsets near 2^53; prove the check with the arithmetic bound.
    assert.equal(l.onData(Number.MAX_SAFE_INTEGER, Buffer.alloc(1), 0), GAP);
  });

  it('acknowledges once ackEvery bytes were delivered since the last ACK', () => {
    const l = new ByteLedger({ ackEvery: 1000, ackDelayMs: 1e9 });
    assert.equal(l.pollAck(0), null);
    assert.equal(l.nextDeadline(), Infinity);
    l.onData(0, Buffer.alloc(999), 5);
    assert.equal(l.pollAck(5), null);
    assert.equal(l.nextDeadline(), 5 + 1e9);
    l.onData(999, Buffer.alloc(1), 6);
    assert.ok(l.nextDeadline() <= 6);
    assert.equal(l.pollAck(6), 1000);
    assert.equal(l.pollAck(6), null, 'marked sent');
    assert.equal(l.nextDeadline(), Infinity);
    l.onData(1000, Buffer.alloc(1500), 7);
    assert.equal(l.pollAck(7), 2500);
  });

  it('acknowledges ackDelayMs after the first delivery not yet acknowledged', () => {
    const l = new ByteLedger({ ackEvery: 1 << 20, ackDelayMs: 20 });
    l.onData(0, Buffer.alloc(10), 100);
    l.onData(10, Buffer.alloc(10), 115); // the timer runs from the first, not the last
    assert.equal(l.nextDeadline(), 120);
    assert.equal(l.pollAck(119.5), null);
    assert.equal(l.pollAck(120), 20);
    assert.equal(l.nextDeadline(), Infinity);
    l.onData(20, Buffer.alloc(5), 130);
    assert.equal(l.nextDeadline(), 150);
    assert.equal(l.onData(0, Buffer.alloc(25), 131), null);
    assert.equal(l.nextDeadline(), 150, 'a duplicate does not move the timer');
    assert.equal(l.pollAck(150), 25);
  });

  it('ackNow makes the next pollAck answer delivered even if it did not move, even at 0', () => {
    const l = new ByteLedger({ ackDelayMs: 20 });
    l.ackNow();
    assert.ok(l.nextDeadline() <= 0);
    assert.equal(l.pollAck(0), 0);
    assert.equal(l.pollAck(0), null);
    l.onData(0, Buffer.alloc(7), 1);
    assert.equal(l.pollAck(21), 7);
    l.ackNow();
    assert.equal(l.pollAck(22), 7, 'repeats the last ACK (it may have died with the old transport)');
    assert.equal(l.nextDeadline(), Infinity);
  });

  it('defaults: ackEvery is capacity / 8, ackDelayMs 20', () => {
    const l = new ByteLedger({ capacity: 8000 });
    l.onData(0, Buffer.alloc(999), 0);
    assert.equal(l.pollAck(19), null);
    l.onData(999, Buffer.alloc(1), 0);
    assert.equal(l.pollAck(1), 1000);
    l.onData(1000, Buffer.alloc(1), 50);
    assert.equal(l.nextDeadline(), 70);
  });
});

describe('ByteLedger: release', () => {
  it('frees everything and takes or hands out nothing more', () => {
    const l = new ByteLedger();
    l.write(pattern(0, 5000));
    l.pollData(100);
    l.onData(0, Buffer.alloc(10), 0);
    l.ackNow();
    l.release();
    assert.equal(l.retained, 0);
    assert.equal(l.retainedChunks, 0);
    assert.equal(l.unsent, 0);
    assert.equal(l.writable, false);
    assert.equal(l.write(pattern(0, 10)), false);
    l.rewind();
    assert.equal(l.pollData(100), null);
    assert.equal(l.pollAck(1000), null);
    assert.equal(l.nextDeadline(), Infinity);
    assert.equal(l.onData(10, Buffer.alloc(1), 0), null);
    assert.equal(l.onAck(100), true);
    assert.equal(l.onAck(10_000), false, 'still a broken ACK');
  });
});
