import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DIRECT_TIMERS, PATH_DEATH_MS, PathMonitor } from '../../src/direct/index.js';
import { ProbeCodec, ProbeType, derivePunchKeys } from '../../src/punch/index.js';

const key = randomBytes(32);
const mine = new ProbeCodec(derivePunchKeys(key, 'initiator', 'x'), randomBytes);
const peer = new ProbeCodec(derivePunchKeys(key, 'responder', 'x'), randomBytes);
const remote = { address: '203.0.113.9', port: 9 };

test('an idle path gets a keepalive every 15 s, and the peer\'s answer keeps it alive', () => {
  const m = new PathMonitor({ codec: mine, socket: 0, remote, now: 0 });
  assert.equal(DIRECT_TIMERS.keepaliveInitialMs, 15_000);
  assert.equal(m.nextDeadline(), 15_000);
  m.tick(15_000);
  const out = m.drain();
  assert.equal(out.length, 1);
  const ka = peer.open(out[0]!.data)!;
  assert.equal(ka.type, ProbeType.Keepalive);
  // The peer answers 40 ms later.
  const ack = peer.make(ProbeType.KeepaliveAck, remote, ka.nonce).data;
  m.handle(mine.open(ack)!, remote, 15_040);
  for (let t = 15_040; t <= 60_000; t += 100) {
    m.tick(t);
    for (const o of m.drain()) {
      const p = peer.open(o.data)!;
      m.handle(mine.open(peer.make(ProbeType.KeepaliveAck, remote, p.nonce).data)!, remote, t);
    }
  }
  assert.equal(m.health, 'alive');
  assert.equal(m.keepalivesSent, 3);
});

test('a path that stops answering while data is sent turns suspect, is checked quickly, and is dead 4.5 s after the first unanswered send', () => {
  assert.equal(PATH_DEATH_MS, 4500);
  const m = new PathMonitor({ codec: mine, socket: 0, remote, now: 0 });
  let deadAt = -1;
  let suspectAt = -1;
  for (let t = 0; t <= 10_000; t += 10) {
    if (t < 1000) {
      m.onSent(t);
      m.onHeard(t + 5);
    } else {
      m.onSent(t); // the NAT mapping vanished at 1 s: we keep sending, nothing comes back
    }
    m.tick(t);
    m.drain();
    if (m.health === 'suspect' && suspectAt < 0) suspectAt = t;
    if (m.health === 'dead' && deadAt < 0) deadAt = t;
  }
  // The first unanswered send is the one at 1000 ms (the one at 990 was answered at 995).
  assert.equal(suspectAt, 1000 + DIRECT_TIMERS.suspectAfterMs);
  assert.equal(deadAt, 1000 + PATH_DEATH_MS);
  // Checks every 300 ms while suspect: at +0, +300, ... +2400.
  assert.equal(m.checksSent, Math.floor((DIRECT_TIMERS.deadAfterMs - 1) / DIRECT_TIMERS.checkIntervalMs) + 1);
});

test('a keepalive from the peer is answered and counts as life', () => {
  const m = new PathMonitor({ codec: mine, socket: 0, remote, now: 0 });
  m.handle(mine.open(peer.make(ProbeType.Keepalive, remote).data)!, remote, 100);
  const out = m.drain();
  assert.equal(out.length, 1);
  assert.equal(peer.open(out[0]!.data)!.type, ProbeType.KeepaliveAck);
});

test('fractional clock values: ticking at nextDeadline() always moves the monitor on (no timer that fires without effect)', () => {
  // 8207.026208 - 6207.026208 is 1999.999999999999 in floating point: a test
  // written as `now - since >= 2000` did nothing at its own deadline.
  const t0 = 6207.026208;
  const m = new PathMonitor({ codec: mine, socket: 0, remote, now: t0 });
  m.onSent(t0);
  const suspectAt = m.nextDeadline();
  assert.equal(suspectAt, t0 + DIRECT_TIMERS.suspectAfterMs);
  m.tick(suspectAt!);
  assert.equal(m.health, 'suspect');
  // And on to dead, each wake-up at the deadline it asked for, bounded.
  const health = (): string => m.health;
  let wakeups = 0;
  for (let at = m.nextDeadline(); at !== null && wakeups < 50; at = m.nextDeadline()) {
    const before = at;
    m.tick(at);
    m.drain();
    wakeups++;
    assert.ok(health() === 'dead' || (m.nextDeadline() ?? Infinity) > before, `the deadline moved on after waking at ${before}`);
  }
  assert.equal(health(), 'dead');

  const idle = new PathMonitor({ codec: mine, socket: 0, remote, now: 0.1 + 0.2 });
  const keepaliveAt = idle.nextDeadline()!;
  idle.tick(keepaliveAt);
  assert.equal(idle.drain().length, 1, 'the keepalive went out at its deadline');
});
