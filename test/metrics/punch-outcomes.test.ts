/** What the rendezvous counts of each punch attempt (for burrow_rendezvous_punch_attempts_total), and the NAT classes it labels them with. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PunchBroker, type PeerId } from '../../rendezvous/punch-broker.js';
import type { CandidateMessage, NatInfoMessage, ServerMessage } from '../../src/control/messages.js';
import { natClass } from '../../src/metrics/nat-class.js';
import { sessionId } from '../rendezvous-unit/loopback-peer.js';

const cone: NatInfoMessage = { udp: true, mapping: 'independent', allocation: 'preserving' };
const random: NatInfoMessage = { udp: true, mapping: 'dependent', allocation: 'random' };
const cand = (port: number): CandidateMessage[] => [{ kind: 'srflx', address: '203.0.113.9', port }];

function setup() {
  const sent: { to: PeerId; m: ServerMessage }[] = [];
  const b = new PunchBroker({ maxPairs: 16, offerTimeoutMs: 8000, marginMs: 20, rejoinGraceMs: 30_000 }, { send: (to, m) => sent.push({ to, m }), rttMs: () => null, log: () => {} });
  const id = sessionId(1);
  b.authorize(id, 'V', 'P', { visitor: Buffer.alloc(32, 1), provider: Buffer.alloc(32, 2) });
  return { b, id };
}

describe('punch attempts counted by outcome and NAT classes', () => {
  it('both sides with candidates: introduced, with each side\'s class', () => {
    const { b, id } = setup();
    b.offer('V', { type: 'offer', connId: id, attempt: 0, candidates: cand(1000), nat: cone }, 0);
    b.offer('P', { type: 'offer', connId: id, attempt: 0, candidates: cand(2000), nat: random }, 5);
    assert.deepEqual(b.outcomeCounts, [{ outcome: 'introduced', visitorNat: 'cone', providerNat: 'symmetric_random', count: 1 }]);
  });

  it('a side without candidates: declined; a second such attempt adds to the same count', () => {
    const { b, id } = setup();
    for (const attempt of [0, 1]) {
      b.offer('V', { type: 'offer', connId: id, attempt, candidates: cand(1000), nat: cone }, attempt);
      b.offer('P', { type: 'offer', connId: id, attempt, candidates: [], reason: 'stcp' }, attempt);
    }
    assert.deepEqual(b.outcomeCounts, [{ outcome: 'declined', visitorNat: 'cone', providerNat: 'unknown', count: 2 }]);
  });

  it('a side that sends nothing in time: timeout, the silent side unknown', () => {
    const { b, id } = setup();
    b.offer('V', { type: 'offer', connId: id, attempt: 0, candidates: cand(1000), nat: random }, 0);
    b.handleTimeout(7999);
    assert.deepEqual(b.outcomeCounts, []);
    b.handleTimeout(8000);
    assert.deepEqual(b.outcomeCounts, [{ outcome: 'timeout', visitorNat: 'symmetric_random', providerNat: 'unknown', count: 1 }]);
  });

  it('an offer from a stranger counts nothing', () => {
    const { b, id } = setup();
    b.offer('X', { type: 'offer', connId: id, attempt: 0, candidates: cand(1000), nat: cone }, 0);
    b.handleTimeout(10_000);
    assert.deepEqual(b.outcomeCounts, []);
  });
});

describe('natClass', () => {
  it('names each behaviour from a small fixed set', () => {
    assert.equal(natClass(undefined), 'unknown');
    assert.equal(natClass({ udp: false, mapping: 'unknown', allocation: 'unknown' }), 'no_udp');
    assert.equal(natClass(cone), 'cone');
    assert.equal(natClass({ udp: true, mapping: 'dependent', allocation: 'sequential' }), 'symmetric_sequential');
    assert.equal(natClass({ udp: true, mapping: 'dependent', allocation: 'preserving' }), 'symmetric_preserving');
    assert.equal(natClass(random), 'symmetric_random');
    assert.equal(natClass({ udp: true, mapping: 'dependent', allocation: 'unknown' }), 'unknown');
    assert.equal(natClass({ udp: true, mapping: 'unknown', allocation: 'random' }), 'unknown');
  });
});
