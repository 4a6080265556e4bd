/**
 * The property the byte ledger exists for: two ledgers over transports that
 * switch, die with data and ACKs in flight, or keep delivering after the
 * switch, deliver the written stream exactly once and in order.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ByteLedger, GAP } from '../../src/session/byte-ledger.js';
import { FrameDecoder, encodeAck, encodeData, encodeDataHeader } from '../../src/session/resume-frame.js';
import { pattern } from './stream-pattern.js';

/** One transport between A and B: an in-order byte stream each way, framed, split arbitrarily. */
interface Transport {
  alive: boolean;
  toB: Buffer[];
  toA: Buffer[];
  decB: FrameDecoder;
  decA: FrameDecoder;
}

function newTransport(): Transport {
  return { alive: true, toB: [], toA: [], decB: new FrameDecoder(), decA: new FrameDecoder() };
}

/** Takes up to `n` bytes from the front of a queue of pieces. */
function takeBytes(queue: Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  while (n > 0 && queue.length > 0) {
    const head = queue[0];
    if (head === undefined) break;
    if (head.length <= n) {
      out.push(head);
      queue.shift();
      n -= head.length;
    } else {
      out.push(head.subarray(0, n));
      queue[0] = head.subarray(n);
      n = 0;
    }
  }
  return out;
}

type Op =
  | { k: 'write' }
  | { k: 'send'; maxBytes: number; frames: number; split: boolean }
  | { k: 'toB'; t: number; bytes: number; ackVia: number }
  | { k: 'toA'; t: number; bytes: number }
  | { k: 'tick'; ms: number; ackVia: number }
  | { k: 'switch'; keepOld: boolean }
  | { k: 'switchBack'; t: number }
  | { k: 'spuriousRewind' }
  | { k: 'replay'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Op>({ k: 'write' }) },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('send' as const),
      maxBytes: fc.integer({ min: 1, max: 3000 }),
      frames: fc.integer({ min: 1, max: 8 }),
      split: fc.boolean(),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant('toB' as const),
      t: fc.nat(),
      bytes: fc.integer({ min: 1, max: 8000 }),
      ackVia: fc.nat(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('toA' as const), t: fc.nat(), bytes: fc.integer({ min: 1, max: 60 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 40 }), ackVia: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('switch' as const), keepOld: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('switchBack' as const), t: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant<Op>({ k: 'spuriousRewind' }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('replay' as const), pick: fc.nat() }) },
);

interface Scenario {
  capacity: number;
  ackEvery: number | undefined;
  ackDelayMs: number;
  sizes: number[];
  ops: Op[];
}

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .integer({ min: 1, max: 20_000 })
  .chain((capacity) =>
    fc.record({
      capacity: fc.constant(capacity),
      ackEvery: fc.option(fc.integer({ min: 1, max: capacity }), { nil: undefined }),
      ackDelayMs: fc.integer({ min: 0, max: 30 }),
      sizes: fc.array(fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 5000 })), {
        minLength: 1,
        maxLength: 60,
        size: 'max', // fast-check's default size keeps arrays near 10 long: too few events to matter
      }),
      ops: fc.array(opArb, { maxLength: 250, size: 'max' }),
    }),
  );

/** Runs one scenario; throws (assert) on any violation. */
function runScenario(s: Scenario): void {
  const a = new ByteLedger(
    s.ackEvery === undefined ? { capacity: s.capacity, ackDelayMs: s.ackDelayMs } : { capacity: s.capacity, ackEvery: s.ackEvery, ackDelayMs: s.ackDelayMs },
  );
  const b = new ByteLedger({ ackDelayMs: s.ackDelayMs });
  const writes: Buffer[] = [];
  const received: Buffer[] = [];
  let nextWrite = 0;
  let largestWrite = 0;
  let now = 0;
  let transports: Transport[] = [newTransport()];
  let current = at0(transports);
  /** Recent DATA frames A sent, for replaying duplicates. */
  const history: { offset: number; bytes: Buffer }[] = [];

  function at0(ts: Transport[]): Transport {
    const t = ts[0];
    assert.ok(t);
    return t;
  }
  function pick(n: number): Transport {
    const live = transports.filter((t) => t.alive);
    const t = live[n % live.length];
    assert.ok(t);
    return t;
  }

  function write(): void {
    const size = s.sizes[nextWrite];
    if (size === undefined || !a.writable) return;
    nextWrite++;
    const buf = pattern(a.written, size);
    writes.push(Buffer.from(buf)); // our own copy: also proves the ledger never changes what it was given
    a.write(buf);
    largestWrite = Math.max(largestWrite, size);
    assert.ok(a.retained <= s.capacity + largestWrite, `retained ${a.retained} over capacity ${s.capacity} + ${largestWrite}`);
  }

  function send(maxBytes: number, frames: number, split: boolean): void {
    for (let i = 0; i < frames; i++) {
      const p = a.pollData(maxBytes);
      if (p === null) return;
      assert.ok(p.bytes.length >= 1 && p.bytes.length <= maxBytes);
      if (split) current.toB.push(encodeDataHeader(p.offset, p.bytes.length), p.bytes);
      else current.toB.push(encodeData(p.offset, p.bytes));
      history.push(p);
      if (history.length > 16) history.shift();
    }
  }

  function sendAck(via: Transport): void {
    const ack = b.pollAck(now);
    if (ack !== null) via.toA.push(encodeAck(ack));
  }

  function deliverToB(t: Transport, n: number, ackVia: number): void {
    for (const piece of takeBytes(t.toB, n)) {
      t.decB.push(piece);
      for (let f = t.decB.next(); f !== null; f = t.decB.next()) {
        assert.equal(f.type, 'data', `B decoded ${JSON.stringify(f)}`);
        if (f.type !== 'data') return;
        const before = b.delivered;
        const got = b.onData(f.offset, f.bytes, now);
        assert.notEqual(got, GAP, `GAP: data at ${f.offset} with ${before} delivered`);
        if (got === null || got === GAP) continue;
        assert.deepEqual(got, pattern(before, got.length), `wrong bytes delivered at ${before}`);
        received.push(Buffer.from(got));
      }
    }
    sendAck(pick(ackVia));
  }

  function deliverToA(t: Transport, n: number): void {
    for (const piece of takeBytes(t.toA, n)) {
      t.decA.push(piece);
      for (let f = t.decA.next(); f !== null; f = t.decA.next()) {
        assert.equal(f.type, 'ack', `A decoded ${JSON.stringify(f)}`);
        if (f.type !== 'ack') return;
        assert.equal(a.onAck(f.offset), true, `honest ACK ${f.offset} refused (written ${a.written})`);
        assert.ok(a.acknowledged <= b.delivered);
      }
    }
  }

  function switchTo(next: Transport): void {
    current = next;
    a.rewind();
    b.ackNow();
  }

  for (const op of s.ops) {
    switch (op.k) {
      case 'write':
        write();
        break;
      case 'send':
        send(op.maxBytes, op.frames, op.split);
        break;
      case 'toB':
        deliverToB(pick(op.t), op.bytes, op.ackVia);
        break;
      case 'toA':
        deliverToA(pick(op.t), op.bytes);
        break;
      case 'tick':
        now += op.ms;
        sendAck(pick(op.ackVia));
        break;
      case 'switch': {
        const old = current;
        if (!op.keepOld) {
          // The direct path died: everything in flight both ways is gone (data and ACKs).
          old.alive = false;
          old.toA.length = 0;
          old.toB.length = 0;
        }
        const fresh = newTransport();
        transports = [...transports.filter((t) => t.alive), fresh].slice(-4);
        switchTo(fresh);
        break;
      }
      case 'switchBack':
        switchTo(pick(op.t));
        break;
      case 'spuriousRewind':
        a.rewind();
        break;
      case 'replay': {
        // A stale duplicate of something B already has, arriving later on the current transport.
        const old = history.filter((h) => h.offset + h.bytes.length <= b.delivered);
        const h = old[op.pick % Math.max(1, old.length)];
        if (h !== undefined) current.toB.push(encodeData(h.offset, h.bytes));
        break;
      }
    }
    assert.ok(transports.includes(current) && current.alive);
    // The send cursor never falls behind what the peer acknowledged, and the
    // peer never acknowledges what it has not delivered.
    assert.ok(a.unsent <= a.retained, `unsent ${a.unsent} > retained ${a.retained}`);
    assert.ok(a.acknowledged <= b.delivered && b.delivered <= a.written);
  }

  // Settle: no more failures; every live transport drains, time passes, until all is acknowledged.
  for (let round = 0; round < 20_000; round++) {
    const done =
      nextWrite === s.sizes.length &&
      a.acknowledged === a.written &&
      b.delivered === a.written &&
      transports.every((t) => t.toA.length === 0 && t.toB.length === 0);
    if (done) break;
    write();
    send(1500, 100, round % 2 === 0);
    for (const t of transports) deliverToB(t, Infinity, 0);
    now += s.ackDelayMs + 1;
    sendAck(current);
    for (const t of transports) deliverToA(t, Infinity);
  }
  assert.equal(nextWrite, s.sizes.length, 'every write was taken');
  assert.deepEqual(Buffer.concat(received), Buffer.concat(writes), 'delivered stream equals the written stream');
  assert.equal(a.acknowledged, a.written, 'everything acknowledged at the end');
  assert.equal(a.retained, 0);
  assert.equal(a.retainedChunks, 0);
}

describe('ByteLedger: two ledgers over changing transports', () => {
  it('delivers the written stream exactly once, in order, whatever the transports do', () => {
    fc.assert(fc.property(scenarioArb, runScenario), { numRuns: 300 });
  });

  it('the last ACK dies with the direct path: ackNow on the switch gets it through the relay', () => {
    // Everything is delivered, the one ACK covering it is lost; the sender's
    // resent bytes are all duplicates, which set no ACK timer. Only ackNow
    // tells the sender it can let go.
    runScenario({
      capacity: 10_000,
      ackEvery: undefined,
      ackDelayMs: 5,
      sizes: [3000],
      ops: [
        { k: 'write' },
        { k: 'send', maxBytes: 3000, frames: 1, split: false },
        { k: 'toB', t: 0, bytes: 10_000, ackVia: 0 },
        { k: 'tick', ms: 10, ackVia: 0 },
        { k: 'switch', keepOld: false },
      ],
    });
  });

  it('the relay keeps working after a switch: its late ACK spares resending what it covers', () => {
    runScenario({
      capacity: 10_000,
      ackEvery: undefined,
      ackDelayMs: 5,
      sizes: [3000, 3000],
      ops: [
        { k: 'write' },
        { k: 'write' },
        { k: 'send', maxBytes: 3000, frames: 2, split: false },
        { k: 'toB', t: 0, bytes: 10_000, ackVia: 0 },
        { k: 'tick', ms: 10, ackVia: 0 },
        { k: 'switch', keepOld: true },
        { k: 'send', maxBytes: 1000, frames: 1, split: false },
        { k: 'toA', t: 0, bytes: 12 },
      ],
    });
  });

  it('a hand-written switch scenario: direct path dies mid-stream, relay takes over, then direct again', () => {
    runScenario({
      capacity: 3000,
      ackEvery: undefined,
      ackDelayMs: 5,
      sizes: [1200, 900, 2500, 10, 10, 4000],
      ops: [
        { k: 'write' },
        { k: 'write' },
        { k: 'send', maxBytes: 700, frames: 8, split: true },
        { k: 'toB', t: 0, bytes: 1000, ackVia: 0 },
        { k: 'tick', ms: 10, ackVia: 0 },
        { k: 'switch', keepOld: false },
        { k: 'write' },
        { k: 'send', maxBytes: 1000, frames: 8, split: false },
        { k: 'switch', keepOld: true },
        { k: 'send', maxBytes: 300, frames: 2, split: false },
        { k: 'toB', t: 1, bytes: 5000, ackVia: 1 },
        { k: 'toB', t: 0, bytes: 5000, ackVia: 0 },
        { k: 'replay', pick: 0 },
      ],
    });
  });
});
