import { at } from '../../src/util/at.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  KCP_CMD_ACK,
  KCP_CMD_PUSH,
  KCP_CMD_WASK,
  KCP_CMD_WINS,
  KcpConnection,
  encodeSegments,
  type KcpSegment,
} from '../../src/kcp/index.js';
import { Prng, makePair, messageTransfer, run, streamTransfer, type Pair } from './sim.js';

const CONV = 0x11223344;

/** Everything observable about a connection, to prove a refused datagram changed nothing. */
function observe(k: KcpConnection, now: number): string {
  return JSON.stringify({ s: k.getState(), w: k.waitSnd(), p: k.peekSize(), c: k.check(now) });
}

/** A pair midway through a transfer: data in flight both ways, out-of-order segments buffered. */
function busyPair(): Pair {
  const p = makePair({ mode: 'fast', stream: false }, { latency: 20, jitter: 20, loss: 0.2, seed: 42 });
  const msgs = Array.from({ length: 40 }, (_, i) => Buffer.alloc(900, i));
  for (const m of msgs) p.a.send(m);
  p.b.send(Buffer.from('reply'));
  let steps = 0;
  run(p, { maxTime: 60_000, step: () => undefined, done: () => ++steps > 30 });
  return p;
}

function refusedCount(k: KcpConnection): number {
  return k.stats.malformed + k.stats.wrongConv;
}

/** Fed a datagram: never throws; refused means counted once and no state change. */
function feed(k: KcpConnection, bytes: Uint8Array, now: number): boolean {
  const before = observe(k, now);
  const refusedBefore = refusedCount(k);
  let ok = false;
  assert.doesNotThrow(() => {
    ok = k.input(bytes, now);
  });
  if (!ok) {
    assert.equal(refusedCount(k), refusedBefore + 1);
    assert.equal(observe(k, now), before, 'a refused datagram changed state');
  } else {
    assert.equal(refusedCount(k), refusedBefore);
  }
  return ok;
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });

/** Segments with our conv and wild fields, as bytes, then possibly corrupted. */
const arbNearlyValid = fc
  .record({
    segs: fc.array(
      fc.record({
        cmd: fc.constantFrom(KCP_CMD_PUSH, KCP_CMD_ACK, KCP_CMD_WASK, KCP_CMD_WINS),
        frg: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 })),
        wnd: fc.integer({ min: 0, max: 0xffff }),
        ts: u32,
        sn: fc.oneof(fc.integer({ min: 0, max: 80 }), u32),
        una: fc.oneof(fc.integer({ min: 0, max: 80 }), u32),
        data: fc.uint8Array({ maxLength: 64 }),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    corrupt: fc.option(
      fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }), cut: fc.boolean() }),
      { freq: 2 },
    ),
  })
  .map(({ segs, corrupt }) => {
    const bytes = encodeSegments(segs.map((s) => ({ conv: CONV, ...s }) as KcpSegment));
    if (corrupt === null) return bytes;
    const at = corrupt.at % bytes.length;
    if (corrupt.cut) return bytes.subarray(0, at);
    const b = Buffer.from(bytes);
    b[at] = corrupt.value;
    return b;
  });

describe('input() on hostile bytes', () => {
  it('arbitrary bytes never throw, are refused and counted, and change no state', () => {
    const p = busyPair();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        for (const k of [p.a, p.b]) {
          const ok = feed(k, bytes, p.now);
          // Random bytes essentially never carry our conv.
          assert.equal(ok, false);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('segments with the right conv but wild fields: no throw; refusals change nothing', () => {
    fc.assert(
      fc.property(arbNearlyValid, fc.integer({ min: 0, max: 5000 }), (bytes, dt) => {
        const p = busyPair();
        for (const k of [p.a, p.b]) feed(k, bytes, p.now + dt);
      }),
      { numRuns: 300 },
    );
  });

  it('specific malformations are refused', () => {
    const { a } = busyPair();
    const now = 2_000_000;
    const good = encodeSegments([{ conv: CONV, cmd: KCP_CMD_WINS, frg: 0, wnd: 5, ts: 0, sn: 0, una: 0, data: new Uint8Array(0) }]);
    const variants: Array<[string, Buffer, 'malformed' | 'wrongConv']> = [
      ['empty', Buffer.alloc(0), 'malformed'],
      ['truncated header', good.subarray(0, 20), 'malformed'],
      ['trailing partial header', Buffer.concat([good, good.subarray(0, 10)]), 'malformed'],
      ['unknown cmd', Buffer.from(good).fill(99, 4, 5), 'malformed'],
      ['len beyond buffer', Buffer.from(good).fill(1, 20, 21), 'malformed'],
      ['wrong conv', Buffer.from(good).fill(0, 0, 1), 'wrongConv'],
      ['wrong conv in the second segment', Buffer.concat([good, Buffer.from(good).fill(0, 0, 1)]), 'wrongConv'],
      ['frg on a control segment', Buffer.from(good).fill(1, 5, 6), 'malformed'],
      ['una beyond anything sent', Buffer.from(good).fill(0x7f, 19, 20), 'malformed'],
      [
        'ACK for a sn never sent',
        encodeSegments([{ conv: CONV, cmd: KCP_CMD_ACK, frg: 0, wnd: 5, ts: 0, sn: 100_000, una: 0, data: new Uint8Array(0) }]),
        'malformed',
      ],
      [
        'message longer than the receive window',
        encodeSegments([{ conv: CONV, cmd: KCP_CMD_PUSH, frg: 200, wnd: 5, ts: 0, sn: 0, una: 0, data: new Uint8Array(1) }]),
        'malformed',
      ],
    ];
    for (const [name, bytes, counter] of variants) {
      const before = a.stats[counter];
      const state = observe(a, now);
      assert.equal(a.input(bytes, now), false, name);
      assert.equal(a.stats[counter], before + 1, name);
      assert.equal(observe(a, now), state, name);
    }
    // A valid segment ahead of a broken one is not applied either.
    const valid = encodeSegments([{ conv: CONV, cmd: KCP_CMD_WASK, frg: 0, wnd: 0, ts: 0, sn: 0, una: 0, data: new Uint8Array(0) }]);
    const state = observe(a, now);
    assert.equal(a.input(Buffer.concat([valid, good.subarray(0, 10)]), now), false);
    assert.equal(observe(a, now), state);
  });

  it('garbage first, then a real exchange still works', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }), fc.boolean(), (garbage, stream) => {
        const p = makePair({ stream, mode: 'fast2' }, { latency: 10, loss: 0.1, seed: garbage.length });
        for (const g of garbage) {
          assert.equal(p.a.input(g, p.now), false);
          assert.equal(p.b.input(g, p.now), false);
        }
        const data = new Prng(garbage.length + 1).bytes(20_000);
        if (stream) {
          assert.ok(streamTransfer(p, data, 600_000).equals(data));
        } else {
          const got = messageTransfer(p, [data.subarray(0, 5000), data.subarray(5000)], 600_000);
          assert.ok(Buffer.concat(got).equals(data));
        }
      }),
      { numRuns: 30 },
    );
  });

  it('input accepts plain Uint8Array views (not only Buffers)', () => {
    const p = makePair({}, { latency: 1 });
    const seen: Uint8Array[] = [];
    p.link.filter = (from, d) => {
      if (from === 0) {
        // Re-wrap as a plain Uint8Array at an offset inside a bigger ArrayBuffer.
        const big = new Uint8Array(d.length + 8);
        big.set(d, 8);
        seen.push(big.subarray(8));
      }
      return true;
    };
    p.a.send(Buffer.from('plain'));
    p.a.flush(p.now);
    assert.equal(seen.length, 1);
    assert.equal(p.b.input(at(seen, 0), p.now), true);
    const r = p.b.recv();
    assert.ok(Buffer.isBuffer(r));
    assert.equal(r?.toString(), 'plain');
  });
});
