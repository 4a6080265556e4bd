import { at } from '../../src/util/at.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Prng, makePair, messageTransfer, streamTransfer, type LinkOptions } from './sim.js';

const MB = 1024 * 1024;

function randomMessages(rng: Prng, count: number, maxLen: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const m = rng.bytes(Math.floor(rng.next() * maxLen));
    if (m.length >= 4) m.writeUInt32LE(i, 0); // makes reordering bugs obvious
    out.push(m);
  }
  return out;
}

describe('stream mode transfers are byte-exact', () => {
  const cases: Array<{ name: string; size: number; link: LinkOptions }> = [
    { name: '0% loss', size: 6 * MB, link: { latency: 20, seed: 1 } },
    { name: '10% loss, dup, reorder', size: 3 * MB, link: { latency: 20, jitter: 15, loss: 0.1, dup: 0.05, seed: 2 } },
    { name: '30% loss, dup, reorder', size: 2 * MB, link: { latency: 25, jitter: 30, loss: 0.3, dup: 0.1, seed: 3 } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = makePair({ stream: true, mode: 'fast3', sndwnd: 256, rcvwnd: 256 }, c.link);
      const data = new Prng(c.size).bytes(c.size);
      const got = streamTransfer(p, data);
      assert.equal(got.length, data.length);
      assert.ok(got.equals(data), 'stream corrupted');
      if (c.link.loss) assert.ok(p.a.stats.retransmits > 0);
      if (c.link.dup) assert.ok(p.b.stats.duplicates > 0);
    });
  }

  it('odd-sized writes in stream mode coalesce into full segments', () => {
    const p = makePair({ stream: true, mode: 'fast', sndwnd: 128, rcvwnd: 128 }, { latency: 5, loss: 0.05, seed: 9 });
    const data = new Prng(99).bytes(512 * 1024);
    const got = streamTransfer(p, data, 3_600_000, 333);
    assert.ok(got.equals(data));
    // 333-byte writes still fill segments to the MSS.
    assert.ok(p.a.stats.segmentsSent - p.a.stats.retransmits <= Math.ceil(data.length / 1376) + 1);
  });
});

describe('message mode transfers keep boundaries', () => {
  const cases: Array<{ name: string; link: LinkOptions; mode: 'normal' | 'fast' | 'fast2' | 'turbo' }> = [
    { name: '0% loss', link: { latency: 10, seed: 4 }, mode: 'normal' },
    { name: '10% loss, dup, reorder', link: { latency: 30, jitter: 20, loss: 0.1, dup: 0.05, seed: 5 }, mode: 'fast2' },
    { name: '30% loss, dup, reorder', link: { latency: 30, jitter: 40, loss: 0.3, dup: 0.1, seed: 6 }, mode: 'turbo' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = makePair({ mode: c.mode, sndwnd: 128, rcvwnd: 128 }, c.link);
      const msgs = randomMessages(new Prng(77), 1500, 4000); // up to 3 fragments each, some empty
      const got = messageTransfer(p, msgs);
      assert.equal(got.length, msgs.length);
      for (let i = 0; i < msgs.length; i++) assert.ok(at(got, i).equals(at(msgs, i)), `message ${i} differs`);
    });
  }

  it('a maximal message (rcvwnd fragments) gets through under loss', () => {
    const p = makePair({ mode: 'fast', sndwnd: 64, rcvwnd: 64 }, { latency: 10, loss: 0.1, seed: 8 });
    const msg = new Prng(5).bytes(64 * 1376);
    const got = messageTransfer(p, [msg, Buffer.from('after')]);
    assert.ok(at(got, 0).equals(msg));
    assert.equal(at(got, 1).toString(), 'after');
  });
});

describe('wrap-around', () => {
  it('sequence numbers starting at 2^32 - 50', () => {
    const initialSn = 2 ** 32 - 50;
    const p = makePair({ stream: true, mode: 'fast3', initialSn }, { latency: 10, jitter: 10, loss: 0.1, seed: 10 });
    const data = new Prng(11).bytes(1 * MB);
    assert.ok(streamTransfer(p, data).equals(data));
    // ~760 segments went by, so the counters wrapped past zero.
    const s = p.a.getState();
    assert.ok(s.sndNxt > 500 && s.sndNxt < 10_000, `sndNxt ${s.sndNxt}`);
    assert.equal(p.b.getState().rcvNxt, s.sndNxt);
  });

  it('message mode across the sn wrap', () => {
    const p = makePair({ mode: 'fast', initialSn: 2 ** 32 - 50 }, { latency: 10, loss: 0.2, dup: 0.1, jitter: 10, seed: 12 });
    const msgs = randomMessages(new Prng(13), 300, 3000);
    const got = messageTransfer(p, msgs);
    for (let i = 0; i < msgs.length; i++) assert.ok(at(got, i).equals(at(msgs, i)));
  });

  it('time starting just below 2^32 ms', () => {
    const start = 2 ** 32 - 3_000;
    const p = makePair({ stream: true, mode: 'normal' }, { latency: 40, jitter: 20, loss: 0.1, seed: 14 }, start);
    const data = new Prng(15).bytes(512 * 1024);
    assert.ok(streamTransfer(p, data).equals(data));
    assert.ok(p.now > 2 ** 32, 'the clock should have wrapped during the transfer');
    // RTT estimates stay sane across the wrap (no 2^32-sized samples).
    assert.ok(p.a.srtt > 0 && p.a.srtt < 1000, `srtt ${p.a.srtt}`);
  });
});

describe('congestion control', () => {
  for (const noCongestion of [false, true]) {
    it(`completes with the congestion window ${noCongestion ? 'off' : 'on'}`, () => {
      const p = makePair(
        { stream: true, nodelay: true, interval: 10, resend: 2, noCongestion, sndwnd: 256, rcvwnd: 256 },
        { latency: 15, jitter: 5, loss: 0.1, seed: 16 },
      );
      const data = new Prng(17).bytes(1 * MB);
      assert.ok(streamTransfer(p, data).equals(data));
      const s = p.a.getState();
      if (!noCongestion) assert.ok(s.cwnd >= 1 && s.cwnd <= 256);
    });
  }
});

describe('random configurations (property)', () => {
  it('any windows, MTU, mode, start sn/time and link faults: delivery is exact', () => {
    fc.assert(
      fc.property(
        fc.record({
          stream: fc.boolean(),
          mode: fc.constantFrom('normal', 'fast', 'fast2', 'fast3', 'default' as const),
          sndwnd: fc.integer({ min: 1, max: 512 }),
          rcvwnd: fc.integer({ min: 8, max: 512 }),
          mtu: fc.integer({ min: 60, max: 1500 }),
          initialSn: fc.oneof(fc.integer({ min: 2 ** 32 - 400, max: 2 ** 32 - 1 }), fc.nat(1000)),
          start: fc.oneof(fc.integer({ min: 2 ** 32 - 5000, max: 2 ** 32 }), fc.nat(10_000)),
          latency: fc.integer({ min: 0, max: 80 }),
          jitter: fc.integer({ min: 0, max: 60 }),
          loss: fc.constantFrom(0, 0.05, 0.2, 0.35),
          dup: fc.constantFrom(0, 0.1),
          seed: fc.nat(),
        }),
        (c) => {
          // A very lossy link may legitimately exhaust 20 transmissions; this property is about exactness.
          const p = makePair(
            { stream: c.stream, mode: c.mode, sndwnd: c.sndwnd, rcvwnd: c.rcvwnd, mtu: c.mtu, initialSn: c.initialSn, deadLink: 1000 },
            { latency: c.latency, jitter: c.jitter, loss: c.loss, dup: c.dup, seed: c.seed },
            c.start,
          );
          const rng = new Prng(c.seed);
          if (c.stream) {
            const data = rng.bytes(30_000 + Math.floor(rng.next() * 60_000));
            assert.ok(streamTransfer(p, data, 36_000_000, 1 + Math.floor(rng.next() * 9000)).equals(data));
          } else {
            const maxLen = Math.min(c.rcvwnd, 255) * (c.mtu - 24);
            const msgs = Array.from({ length: 60 }, () => rng.bytes(Math.floor(rng.next() * Math.min(maxLen, 6000))));
            const got = messageTransfer(p, msgs, 36_000_000);
            assert.equal(got.length, msgs.length);
            msgs.forEach((m, i) => assert.ok(at(got, i).equals(m), `message ${i}`));
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
