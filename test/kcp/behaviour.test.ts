import { at } from '../../src/util/at.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBurrowError } from '../../src/errors.js';
import {
  KCP_CMD_PUSH,
  KCP_CMD_WINS,
  KCP_IDLE_CHECK,
  KCP_MODES,
  KcpConnection,
  decodeSegments,
  type KcpOptions,
} from '../../src/kcp/index.js';
import { makePair, messageTransfer, run, streamTransfer, Prng } from './sim.js';

function capture(opts: Partial<KcpOptions> = {}): { k: KcpConnection; out: Buffer[] } {
  const out: Buffer[] = [];
  const k = new KcpConnection({ conv: 5, ...opts, output: (d) => void out.push(Buffer.from(d)) });
  return { k, out };
}

describe('fast resend', () => {
  it('one lost packet is fast-resent before its RTO', () => {
    const p = makePair({ mode: 'fast', sndwnd: 64, rcvwnd: 64 }, { latency: 30, seed: 1 });
    let droppedOnce = false;
    p.link.filter = (from, d) => {
      if (from !== 0 || droppedOnce) return true;
      const segs = decodeSegments(d) ?? [];
      if (segs.some((s) => s.cmd === KCP_CMD_PUSH && s.sn === 3)) {
        droppedOnce = true;
        return false;
      }
      return true;
    };
    // One 1000-byte message every 5 ms, so each travels alone and ACKs trickle back.
    const msgs = Array.from({ length: 20 }, (_, i) => Buffer.alloc(1000, i));
    let next = 0;
    let nextAt = p.now;
    const got: Buffer[] = [];
    run(p, {
      maxTime: 60_000,
      step: (now) => {
        if (next < msgs.length && now >= nextAt) {
          p.a.send(at(msgs, next++));
          nextAt = now + 5;
        }
        for (let m = p.b.recv(); m !== null; m = p.b.recv()) got.push(m);
      },
      wakeAt: () => (next < msgs.length ? nextAt : Infinity),
      done: () => got.length === msgs.length,
    });
    assert.ok(droppedOnce);
    assert.deepEqual(got, msgs);
    assert.equal(p.a.stats.fastRetransmits, 1);
    assert.equal(p.a.stats.lostSegments, 0, 'no RTO retransmission should have been needed');
  });

  it('is off when resend is 0', () => {
    const p = makePair({ mode: 'normal' }, { latency: 30, loss: 0.1, seed: 2 });
    const data = new Prng(3).bytes(200_000);
    messageTransfer(p, [data.subarray(0, 100_000), data.subarray(100_000)]);
    assert.equal(p.a.stats.fastRetransmits, 0);
    assert.ok(p.a.stats.lostSegments > 0);
  });
});

describe('window probing', () => {
  function stalledPair(dropFirstWins: boolean) {
    const p = makePair({ mode: 'fast', sndwnd: 16, rcvwnd: 16 }, { latency: 20, seed: 4 });
    let winsDropped = 0;
    if (dropFirstWins) {
      // Lose the receiver's "window open again" tell, so only the sender's probe can restart it.
      p.link.filter = (from, d) => {
        const segs = decodeSegments(d) ?? [];
        if (from === 1 && winsDropped === 0 && segs.some((s) => s.cmd === KCP_CMD_WINS && s.wnd > 0)) {
          winsDropped++;
          return false;
        }
        return true;
      };
    }
    const msgs = Array.from({ length: 100 }, (_, i) => Buffer.alloc(500, i));
    let next = 0;
    let reading = false;
    const got: Buffer[] = [];
    const step = () => {
      while (next < msgs.length && p.a.waitSnd() < 64) p.a.send(at(msgs, next++));
      if (reading) for (let m = p.b.recv(); m !== null; m = p.b.recv()) got.push(m);
    };
    return {
      p,
      msgs,
      got,
      startReading: () => void (reading = true),
      step,
      winsDropped: () => winsDropped,
    };
  }

  it('probes a zero window with backing-off WASKs, then resumes when the reader reads', () => {
    const s = stalledPair(false);
    const { p } = s;
    run(p, { maxTime: 10_000, step: s.step, done: () => p.a.getState().rmtWnd === 0 && p.a.getState().sndBuf === 0 });
    const closedAt = p.now;
    // Nothing in flight, data waiting: the next wake-up is the first probe, 7 s out.
    const wait = p.a.check(p.now) - p.now;
    assert.ok(wait > 6_000 && wait <= 7_000, `probe wait ${wait}`);
    run(p, { maxTime: 120_000, step: s.step, wakeAt: () => closedAt + 60_000, done: () => p.now - closedAt >= 60_000 });
    // Probes at +7 s, +17.5 s, +33.25 s, +56.9 s.
    assert.equal(p.a.stats.probesSent, 4);
    assert.ok(p.b.stats.windowTells >= 4, 'every WASK is answered with a WINS');
    assert.equal(s.got.length, 0);
    const resumeAt = p.now;
    s.startReading();
    run(p, { maxTime: 200_000, step: s.step, done: () => s.got.length === s.msgs.length });
    assert.deepEqual(s.got, s.msgs);
    assert.ok(p.now - resumeAt < 2_000, `resumed only after ${p.now - resumeAt} ms`);
    assert.equal(p.a.getState().probeWait, 0);
  });

  it('a lost window update is recovered by the probe', () => {
    const s = stalledPair(true);
    const { p } = s;
    run(p, { maxTime: 10_000, step: s.step, done: () => p.a.getState().rmtWnd === 0 && p.a.getState().sndBuf === 0 });
    const readAt = p.now;
    s.startReading();
    run(p, { maxTime: 200_000, step: s.step, done: () => s.got.length === s.msgs.length });
    assert.equal(s.winsDropped(), 1);
    assert.deepEqual(s.got, s.msgs);
    assert.ok(p.a.stats.probesSent >= 1);
    assert.ok(p.now - readAt < 10_000, `probe should restart within ~7 s, took ${p.now - readAt} ms`);
  });
});

describe('dead link', () => {
  for (const [mode, deadLink, bound] of [
    ['normal', undefined, 20 * 60_000],
    ['fast3', undefined, 10 * 60_000],
    ['fast', 5, 10_000],
  ] as const) {
    it(`${mode}, deadLink ${deadLink ?? 'default 20'}: dead within a bounded time once the peer vanishes`, () => {
      const p = makePair({ mode, ...(deadLink ? { deadLink } : {}) }, { latency: 20, seed: 5 });
      messageTransfer(p, [Buffer.from('hello')]);
      p.link.filter = () => false; // the peer disappears
      p.a.send(Buffer.from('into the void'));
      const t0 = p.now;
      run(p, { maxTime: bound + 120_000, step: () => undefined, done: () => p.a.dead });
      assert.ok(p.now - t0 <= bound, `dead after ${p.now - t0} ms`);
      assert.equal(p.a.stats.segmentsSent - 1, deadLink ?? 20, 'hello once, then deadLink transmissions');
      assert.throws(
        () => p.a.send(Buffer.from('x')),
        (e: unknown) => isBurrowError(e, 'ERR_KCP_DEAD_LINK'),
      );
      // A dead connection asks for no more wake-ups.
      assert.equal(p.a.check(p.now), p.now + KCP_IDLE_CHECK);
    });
  }
});

describe('limits and errors', () => {
  it('message mode refuses messages with too many fragments', () => {
    const { k } = capture();
    k.send(Buffer.alloc(128 * 1376)); // exactly rcvwnd fragments: fine
    const tooLarge = (e: unknown) => isBurrowError(e, 'ERR_KCP_MESSAGE_TOO_LARGE');
    assert.throws(() => k.send(Buffer.alloc(128 * 1376 + 1)), tooLarge);
    const big = capture({ rcvwnd: 1024 }).k;
    big.send(Buffer.alloc(255 * 1376));
    assert.throws(() => big.send(Buffer.alloc(255 * 1376 + 1)), tooLarge);
    // Stream mode has no message size limit.
    const s = capture({ stream: true, rcvwnd: 16 }).k;
    s.send(Buffer.alloc(1 << 20));
    assert.equal(s.waitSnd(), Math.ceil((1 << 20) / 1376));
  });

  it('empty sends: a no-op in stream mode, an empty message otherwise', () => {
    const s = capture({ stream: true });
    s.k.send(new Uint8Array(0));
    assert.equal(s.k.waitSnd(), 0);
    const p = makePair({}, { latency: 5 });
    const got = messageTransfer(p, [Buffer.alloc(0), Buffer.from('x'), Buffer.alloc(0)]);
    assert.deepEqual(got.map((g) => g.length), [0, 1, 0]);
  });

  it('invalid options throw ERR_INVALID_ARGUMENT', () => {
    const bad = (e: unknown) => isBurrowError(e, 'ERR_INVALID_ARGUMENT');
    const output = () => undefined;
    assert.throws(() => new KcpConnection({ conv: -1, output }), bad);
    assert.throws(() => new KcpConnection({ conv: 2 ** 32, output }), bad);
    assert.throws(() => new KcpConnection({ conv: 1, output, mtu: 20 }), bad);
    assert.throws(() => new KcpConnection({ conv: 1, output, rcvwnd: 0 }), bad);
    assert.throws(() => new KcpConnection({ conv: 1, output, sndwnd: 70_000 }), bad);
    assert.throws(() => new KcpConnection({ conv: 1, output, initialSn: 2 ** 32 }), bad);
    assert.throws(() => new KcpConnection({ conv: 1, output, mode: 'warp' as 'fast' }), bad);
    const k = new KcpConnection({ conv: 1, output });
    assert.throws(() => k.setMtu(10), bad);
    assert.throws(() => k.setWindow(0, 10), bad);
  });

  it('modes are the documented presets', () => {
    assert.deepEqual(KCP_MODES.normal, { nodelay: false, interval: 40, resend: 0, noCongestion: false });
    assert.deepEqual(KCP_MODES.fast, { nodelay: false, interval: 30, resend: 2, noCongestion: true });
    assert.deepEqual(KCP_MODES.fast2, { nodelay: true, interval: 20, resend: 2, noCongestion: true });
    assert.deepEqual(KCP_MODES.fast3, KCP_MODES.turbo);
    assert.deepEqual(KCP_MODES.turbo, { nodelay: true, interval: 10, resend: 2, noCongestion: true });
  });

  it('release frees everything and makes the connection inert', () => {
    const { k, out } = capture();
    k.send(Buffer.from('abc'));
    k.release();
    assert.throws(() => k.send(Buffer.from('x')), (e: unknown) => isBurrowError(e, 'ERR_KCP_RELEASED'));
    assert.equal(k.waitSnd(), 0);
    assert.equal(k.recv(), null);
    assert.equal(k.peekSize(), -1);
    k.flush(0);
    assert.equal(out.length, 0);
    assert.equal(k.input(Buffer.alloc(24), 0), false);
    assert.equal(k.check(0), KCP_IDLE_CHECK);
  });
});

describe('check() deadlines', () => {
  it('far when idle, now with pending ACKs, the RTO while data is in flight', () => {
    const a = capture({ conv: 7, mode: 'normal' });
    const b = capture({ conv: 7, mode: 'normal' });
    const t = 50_000;
    assert.equal(a.k.check(t), t + KCP_IDLE_CHECK);
    a.k.send(Buffer.from('ping'));
    assert.equal(a.k.check(t), t, 'new data the window allows is due now');
    a.k.flush(t);
    const due = a.k.check(t);
    // First RTO: 200 + 200/8 in normal mode.
    assert.equal(due, t + 225);
    assert.equal(b.k.check(t + 10), t + 10 + KCP_IDLE_CHECK);
    b.k.input(at(a.out, 0), t + 10);
    assert.equal(b.k.check(t + 10), t + 10, 'an ACK is pending');
    assert.equal(b.k.peekSize(), 4);
    b.k.flush(t + 10);
    assert.equal(b.k.check(t + 10), t + 10 + KCP_IDLE_CHECK);
    a.k.input(at(b.out, 0), t + 20);
    assert.equal(a.k.waitSnd(), 0);
    assert.equal(a.k.check(t + 20), t + 20 + KCP_IDLE_CHECK);
    assert.equal(b.k.recv()?.toString(), 'ping');
  });

  it('an idle connection makes no output on update', () => {
    const { k, out } = capture({ mode: 'fast3' });
    for (let t = 0; t < 10_000; t += 10) k.update(t);
    assert.equal(out.length, 0);
  });

  it('reports the retransmission time and retransmits exactly then', () => {
    const { k, out } = capture({ mode: 'normal' });
    k.send(Buffer.from('x'));
    k.flush(1000);
    const due = k.check(1000);
    k.update(due - 1);
    assert.equal(out.length, 1, 'not yet');
    k.update(due);
    assert.equal(out.length, 2, 'retransmitted on time');
    // Backed off: twice the RTO from now.
    assert.equal(k.check(due), due + 400);
  });
});

describe('stream mode details', () => {
  it('peekSize matches the recv() result; recv returns all queued bytes', () => {
    const p = makePair({ stream: true }, { latency: 5 });
    const data = new Prng(1).bytes(5000);
    p.a.send(data.subarray(0, 10));
    p.a.send(data.subarray(10, 5000));
    run(p, { maxTime: 10_000, step: () => undefined, done: () => p.b.peekSize() === 5000 });
    const r = p.b.recv();
    assert.ok(r?.equals(data));
    assert.equal(p.b.recv(), null);
    assert.equal(p.b.peekSize(), -1);
  });

  it('works after setMtu and setWindow mid-transfer', () => {
    const p = makePair({ stream: true, mode: 'fast2' }, { latency: 10, loss: 0.05, seed: 7 });
    const data = new Prng(2).bytes(400_000);
    p.a.send(data.subarray(0, 100_000));
    p.a.setMtu(600);
    p.a.setWindow(128, 256);
    p.b.setWindow(128, 256);
    p.a.send(data.subarray(100_000));
    let got = Buffer.alloc(0);
    run(p, {
      maxTime: 600_000,
      step: () => {
        const r = p.b.recv();
        if (r) got = Buffer.concat([got, r]);
      },
      done: () => got.length === data.length,
    });
    assert.ok(got.equals(data));
  });

  it('big transfer with a slow reader (zero windows) stays exact', () => {
    const p = makePair({ stream: true, mode: 'fast3', sndwnd: 64, rcvwnd: 32 }, { latency: 10, jitter: 5, loss: 0.05, seed: 9 });
    const data = new Prng(3).bytes(300_000);
    let off = 0;
    const got: Buffer[] = [];
    let n = 0;
    let nextRead = p.now;
    run(p, {
      maxTime: 3_600_000,
      step: (now) => {
        while (off < data.length && p.a.waitSnd() < 100) {
          p.a.send(data.subarray(off, off + 7000));
          off += 7000;
        }
        if (now >= nextRead) {
          const r = p.b.recv();
          if (r) {
            got.push(r);
            n += r.length;
          }
          nextRead = now + 50;
        }
      },
      wakeAt: () => (n < data.length ? nextRead : Infinity),
      done: () => n >= data.length,
    });
    assert.ok(Buffer.concat(got).equals(data));
  });
});

describe('stream transfer helper sanity', () => {
  it('1 MB lossless', () => {
    const p = makePair({ stream: true, mode: 'turbo', sndwnd: 128, rcvwnd: 128 }, { latency: 1 });
    const data = new Prng(4).bytes(1 << 20);
    assert.ok(streamTransfer(p, data).equals(data));
    assert.equal(p.a.stats.retransmits, 0);
  });
});

describe('maxBurst', () => {
  it('caps new segments per flush and check() asks for the next flush at once', () => {
    const { k, out } = capture({ sndwnd: 128, rcvwnd: 128, maxBurst: 10, noCongestion: true });
    k.send(Buffer.alloc(50 * 1376, 7));
    k.flush(0);
    assert.equal(out.length, 10);
    assert.equal(k.check(0), 0, 'window-allowed data is still queued');
    for (let i = 0; i < 4; i++) k.flush(0);
    assert.equal(out.length, 50);
    assert.ok(k.check(0) > 0, 'nothing left to send at once');
  });

  it('does not change what arrives', () => {
    const p = makePair({ mode: 'fast3', sndwnd: 256, rcvwnd: 256, maxBurst: 8, stream: true }, { latency: 10, loss: 0.05, seed: 9 });
    const data = new Prng(10).bytes(300_000);
    assert.deepEqual(streamTransfer(p, data), data);
  });

  it('rejects a negative cap', () => {
    assert.throws(() => capture({ maxBurst: -1 }), (e) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'));
  });
});
