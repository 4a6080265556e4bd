import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PathMonitor, ProbeCodec, ProbeType, derivePunchKeys } from '../../src/punch/index.js';

const key = randomBytes(32);
const mine = new ProbeCodec(derivePunchKeys(key, 'initiator', 'x'), randomBytes);
const peer = new ProbeCodec(derivePunchKeys(key, 'responder', 'x'), randomBytes);
const remote = { address: '203.0.113.9', port: 9 };

test('an idle path gets a keepalive every 15 s, and the peer\'s answer keeps it alive', () => {
  const m = new PathMonitor({ codec: mine, socket: 0, remote, now: 0 });
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

test('a path that stops answering while data is sent turns suspect, is checked quickly, and is dead within 5 s', () => {
  const m = new PathMonitor({ codec: mine, socket: 0, remote, now: 0 });
  let deadAt = -1;
  for (let t = 0; t <= 10_000; t += 10) {
    if (t < 1000) {
      m.onSent(t);
      m.onHeard(t + 5);
    } else {
      m.onSent(t); // the NAT mapping vanished at 1 s: we keep sending, nothing comes back
    }
    m.tick(t);
    m.drain();
    if (m.health === 'dead' && deadAt < 0) deadAt = t;
  }
  assert.ok(deadAt > 1000 && deadAt <= 6000, `dead at ${deadAt}`);
  assert.ok(m.checksSent >= 5);
});

test('a keepalive from the peer is answered and counts as life', () => {
  const m = new PathMonitor({ codec: mine, socket: 0, remote, now: 0 });
  m.handle(mine.open(peer.make(ProbeType.Keepalive, remote).data)!, remote, 100);
  const out = m.drain();
  assert.equal(out.length, 1);
  assert.equal(peer.open(out[0]!.data)!.type, ProbeType.KeepaliveAck);
});
