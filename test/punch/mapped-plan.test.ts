/**
 * The punch plan with router port mappings (`mapped` candidates): pairs
 * without one keep every outcome; a mapping turns "relay" pairs direct; a
 * random-symmetric side with a mapping waits for the peer, exactly one side
 * when both could; the waiting PunchSession sends nothing unsolicited and
 * locks on the probe-back; the mapped candidate is probed first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { CandidateMessage } from '../../src/control/index.js';
import { ProbeCodec, ProbeType, PunchSession, derivePunchKeys, normaliseCandidates, planPunch, type SessionNatInfo } from '../../src/punch/index.js';

const nat = fc.record({
  udp: fc.boolean(),
  mapping: fc.constantFrom('independent' as const, 'dependent' as const, 'unknown' as const),
  allocation: fc.constantFrom('preserving' as const, 'sequential' as const, 'random' as const, 'unknown' as const),
});
const RANDOM: SessionNatInfo = { udp: true, mapping: 'dependent', allocation: 'random' };
const SEQ: SessionNatInfo = { udp: true, mapping: 'dependent', allocation: 'sequential', step: 1 };
const CONE: SessionNatInfo = { udp: true, mapping: 'independent', allocation: 'preserving' };

test('no mapping on either side: the plan is exactly what it was', () => {
  fc.assert(
    fc.property(nat, nat, fc.boolean(), fc.boolean(), (a, b, birthday, leads) => {
      assert.deepEqual(planPunch(a, b, { birthday, mapped: { local: false, remote: false }, localLeads: leads }), planPunch(a, b, { birthday }));
    }),
  );
});

test('with a mapping, both peers (inputs swapped) agree on direct and birthday, and never both wait', () => {
  fc.assert(
    fc.property(nat, nat, fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), (a, b, birthday, ma, mb, aLeads) => {
      const pa = planPunch(a, b, { birthday, mapped: { local: ma, remote: mb }, localLeads: aLeads });
      const pb = planPunch(b, a, { birthday, mapped: { local: mb, remote: ma }, localLeads: !aLeads });
      assert.equal(pa.direct, pb.direct);
      if (!pa.direct || !pb.direct) return;
      assert.equal(pa.birthday === null, pb.birthday === null);
      assert.ok(!(pa.awaitPeer && pb.awaitPeer), 'somebody must send first');
      // Only a side that offered a mapping waits.
      if (pa.awaitPeer) assert.ok(ma);
      if (pb.awaitPeer) assert.ok(mb);
    }),
  );
});

test('random-symmetric on both sides (or random against sequential): a mapping on either side makes it direct; the mapped random side waits', () => {
  for (const other of [RANDOM, SEQ]) {
    assert.equal(planPunch(RANDOM, other, { birthday: true }).direct, false);
    const local = planPunch(RANDOM, other, { birthday: true, mapped: { local: true, remote: false }, localLeads: true });
    assert.ok(local.direct);
    assert.equal(local.birthday, null);
    assert.equal(local.awaitPeer, true);
    assert.match(local.reason, /this side waits at its mapping/);
    const remote = planPunch(other, RANDOM, { birthday: true, mapped: { local: false, remote: true }, localLeads: false });
    assert.ok(remote.direct);
    assert.equal(remote.awaitPeer, undefined);
    assert.match(remote.reason, /the peer waits at its mapping/);
  }
  // A sequential side with a mapping probes as before (its predicted ports may still work): nobody waits.
  const seqMapped = planPunch(SEQ, RANDOM, { birthday: true, mapped: { local: true, remote: false }, localLeads: true });
  assert.ok(seqMapped.direct);
  assert.equal(seqMapped.awaitPeer, undefined);
  // Both random and both mapped: the leader probes, the other waits.
  const lead = planPunch(RANDOM, RANDOM, { birthday: true, mapped: { local: true, remote: true }, localLeads: true });
  const follow = planPunch(RANDOM, RANDOM, { birthday: true, mapped: { local: true, remote: true }, localLeads: false });
  assert.ok(lead.direct && follow.direct);
  assert.equal(lead.awaitPeer, undefined);
  assert.equal(follow.awaitPeer, true);
});

test('a mapping does not make blocked UDP direct, and leaves plain-probe pairs probing', () => {
  assert.equal(planPunch({ ...CONE, udp: false }, RANDOM, { birthday: true, mapped: { local: false, remote: true } }).direct, false);
  const cone = planPunch(CONE, CONE, { birthday: true, mapped: { local: true, remote: false }, localLeads: true });
  assert.ok(cone.direct);
  assert.equal(cone.awaitPeer, undefined);
  assert.equal(cone.birthday, null);
  // Random against a cone with birthday probing off: its own probes may reach a full cone, so it keeps sending.
  const noBirthday = planPunch(RANDOM, CONE, { birthday: false, mapped: { local: true, remote: false }, localLeads: true });
  assert.ok(noBirthday.direct);
  assert.equal(noBirthday.awaitPeer, undefined);
  // With birthday probing the random side waits at its mapping; birthday probing still runs as the fallback.
  const withBirthday = planPunch(RANDOM, CONE, { birthday: true, mapped: { local: true, remote: false }, localLeads: true });
  assert.ok(withBirthday.direct);
  assert.deepEqual(withBirthday.birthday, { hard: 'local' });
  assert.equal(withBirthday.awaitPeer, true);
});

test('the mapped candidate is first in line, and the wire accepts the new kind next to the old ones', () => {
  const list = normaliseCandidates(
    [
      { kind: 'host', address: '10.0.0.2', port: 5000 },
      { kind: 'srflx', address: '198.51.100.7', port: 61000 },
      { kind: 'mapped', address: '198.51.100.7', port: 40000 },
    ],
    32,
  );
  assert.deepEqual(
    list.map((c) => c.kind),
    ['mapped', 'host', 'srflx'],
  );
  for (const kind of ['host', 'srflx', 'predicted', 'prflx', 'mapped']) {
    assert.ok(CandidateMessage.safeParse({ kind, address: '198.51.100.7', port: 40000 }).success, kind);
  }
  assert.equal(CandidateMessage.safeParse({ kind: 'relay', address: '198.51.100.7', port: 40000 }).success, false);
});

test('a waiting PunchSession sends nothing unsolicited, answers a probe and probes back from the same socket, and locks on that answer', () => {
  const key = randomBytes(32);
  const mine = new ProbeCodec(derivePunchKeys(key, 'responder', 'c1'), randomBytes);
  const peer = new ProbeCodec(derivePunchKeys(key, 'initiator', 'c1'), randomBytes);
  const peerAt = { address: '198.51.100.9', port: 50001 };
  const punch = new PunchSession({ codec: mine, remote: [{ kind: 'srflx', ...peerAt }], startAt: 0, random: randomBytes, awaitPeer: true });
  for (let t = 0; t <= 1000; t += 50) punch.tick(t);
  assert.deepEqual(punch.drain(), []);
  assert.equal(punch.stats.primesSent + punch.stats.probesSent, 0);
  // The peer's probe arrives through our mapping from a port it never announced (its NAT is random too).
  const from = { address: '198.51.100.9', port: 61234 };
  const probe = mine.open(peer.make(ProbeType.Probe, null).data);
  assert.ok(probe);
  punch.handle(probe, from, 0, 1000);
  const out = punch.drain();
  assert.equal(out.length, 2, 'an ack and a probe back');
  assert.ok(out.every((t) => t.socket === 0 && t.to.port === from.port));
  const back = out.map((t) => peer.open(t.data)).find((p) => p?.type === ProbeType.Probe);
  assert.ok(back);
  const ack = mine.open(peer.make(ProbeType.Ack, null, back.nonce).data);
  assert.ok(ack);
  punch.handle(ack, from, 0, 1010);
  assert.equal(punch.state, 'locked');
  assert.deepEqual(punch.locked?.remote, from);
});
