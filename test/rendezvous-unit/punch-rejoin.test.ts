/**
 * PunchBroker: a peer whose control connection goes (a NAT flush resets it)
 * keeps its sessions' punch pairs for a grace, and takes its side back on a
 * new connection by presenting that side's session ticket.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PUNCH_REJOIN_GRACE_MS, PunchBroker, type PeerId, type PunchBrokerOptions } from '../../rendezvous/punch-broker.js';
import type { CandidateMessage, ServerMessage } from '../../src/control/messages.js';
import { sessionId } from './loopback-peer.js';

const GRACE = PUNCH_REJOIN_GRACE_MS;
const cand = (port: number): CandidateMessage[] => [{ kind: 'srflx', address: '203.0.113.9', port }];
const ticketOf = (n: number) => Buffer.alloc(32, n);

function broker(opts: Partial<PunchBrokerOptions> = {}) {
  const sent: { to: PeerId; m: ServerMessage }[] = [];
  const events: string[] = [];
  const b = new PunchBroker(
    { maxPairs: 16, offerTimeoutMs: 8000, marginMs: 20, rejoinGraceMs: GRACE, ...opts },
    { send: (to, m) => sent.push({ to, m }), rttMs: () => null, log: (_level, event) => events.push(event) },
  );
  const take = () => sent.splice(0);
  return { b, take, events };
}

/** Session `n`: visitor V, provider P, tickets n (visitor) and n+100 (provider). */
function pair(b: PunchBroker, n: number, visitor = 'V', provider = 'P'): string {
  const id = sessionId(n);
  b.authorize(id, visitor, provider, { visitor: ticketOf(n), provider: ticketOf(n + 100) });
  return id;
}

const offer = (connId: string, attempt: number, port: number, ticket?: Buffer) => ({
  type: 'offer' as const,
  connId,
  attempt,
  candidates: cand(port),
  ...(ticket ? { ticket: ticket.toString('base64') } : {}),
});

describe('PunchBroker: rejoin after a control reconnect', () => {
  it('a visitor on a new connection with its ticket takes its side over: the punch is introduced to it', () => {
    const { b, take, events } = broker();
    const id = pair(b, 1);
    assert.equal(b.peerGone('V', 0), 1);
    assert.equal(b.stats.orphaned, 1);
    b.offer('V2', offer(id, 3, 1111, ticketOf(1)), 100);
    assert.deepEqual(take(), [{ to: 'P', m: { type: 'punch-request', connId: id, attempt: 3 } }]);
    b.offer('P', offer(id, 3, 2222), 110);
    const out = take();
    assert.deepEqual(out.map((s) => [s.to, s.m.type]), [['V2', 'punch'], ['P', 'punch']]);
    const toV = out[0]?.m;
    assert.ok(toV?.type === 'punch');
    assert.deepEqual(toV.candidates, cand(2222));
    assert.deepEqual(b.stats, { pairs: 1, brokered: 1, offersIgnored: 0, evicted: 0, rejoined: 1, orphaned: 0 });
    assert.ok(events.includes('punch-peer-rejoined'));
    assert.equal(b.nextDeadline(), null, 'no grace left to wait for');
  });

  it('the provider rejoins the same way with its own ticket', () => {
    const { b, take } = broker();
    const id = pair(b, 2);
    b.peerGone('P', 0);
    b.offer('P2', offer(id, 0, 2222, ticketOf(102)), 5);
    assert.deepEqual(take(), [{ to: 'V', m: { type: 'punch-request', connId: id, attempt: 0 } }]);
    assert.equal(b.stats.rejoined, 1);
  });

  it('a provider that was away when the visitor punched gets that attempt\'s punch-request once it rejoins, and the punch is introduced', () => {
    const { b, take } = broker();
    const id = pair(b, 5);
    b.peerGone('P', 0);
    // The visitor punches while the provider's control connection is down: the request has nowhere to go.
    b.offer('V', offer(id, 4, 1111), 10);
    assert.deepEqual(take(), []);
    // The provider is back and speaks first, with an attempt of its own and its ticket.
    b.offer('P2', offer(id, 7, 2222, ticketOf(105)), 20);
    assert.deepEqual(take(), [
      { to: 'P2', m: { type: 'punch-request', connId: id, attempt: 4 } },
      { to: 'V', m: { type: 'punch-request', connId: id, attempt: 7 } },
    ]);
    // It answers the visitor's waiting attempt: introduced.
    b.offer('P2', offer(id, 4, 2223), 30);
    assert.deepEqual(take().map((x) => [x.to, x.m.type]), [['V', 'punch'], ['P2', 'punch']]);
  });

  it('a wrong ticket, or none, from a new connection is ignored without an answer and counted', () => {
    const { b, take, events } = broker();
    const id = pair(b, 3);
    const other = pair(b, 4);
    b.peerGone('V', 0);
    b.offer('X', offer(id, 0, 1, Buffer.alloc(32, 0xee)), 1);
    b.offer('X', offer(id, 0, 1), 1);
    // Another session's ticket is no key to this one.
    b.offer('X', offer(id, 0, 1, ticketOf(4)), 1);
    assert.deepEqual(take(), []);
    assert.equal(b.stats.offersIgnored, 3);
    assert.equal(b.stats.rejoined, 0);
    assert.ok(events.includes('punch-offer-ignored'));
    // The ignored offers changed nothing: the visitor's side is still free for its ticket.
    b.offer('V2', offer(id, 0, 1, ticketOf(3)), 2);
    assert.equal(take()[0]?.to, 'P');
    assert.equal(b.stats.pairs, 2);
    void other;
  });

  it('a pair whose peer does not come back is forgotten when the grace ends', () => {
    const { b, take, events } = broker();
    const id = pair(b, 5);
    b.peerGone('V', 1000);
    assert.equal(b.nextDeadline(), 1000 + GRACE);
    b.handleTimeout(1000 + GRACE - 1);
    assert.equal(b.stats.pairs, 1);
    b.handleTimeout(1000 + GRACE);
    assert.equal(b.stats.pairs, 0);
    assert.equal(b.nextDeadline(), null);
    assert.ok(events.includes('punch-pair-orphan-expired'));
    b.offer('V2', offer(id, 0, 1, ticketOf(5)), 1000 + GRACE + 1);
    const out = take();
    assert.equal(out.length, 1);
    assert.ok(out[0]?.m.type === 'punch' && /does not know this session/.test(out[0].m.reason ?? ''));
  });

  it('a pair both of whose peers are gone is forgotten at once', () => {
    const { b } = broker();
    pair(b, 6);
    b.peerGone('V', 0);
    assert.equal(b.stats.pairs, 1);
    b.peerGone('P', 1);
    assert.equal(b.stats.pairs, 0);
    assert.equal(b.stats.orphaned, 0);
    assert.equal(b.nextDeadline(), null);
  });

  it('at capacity, an orphaned pair is evicted before one whose relay closed and before the least recently active', () => {
    const { b, take } = broker({ maxPairs: 3 });
    const a = pair(b, 7, 'V1', 'P');
    const c = pair(b, 8, 'V2', 'P');
    const d = pair(b, 9, 'V3', 'P');
    b.relayEnded(a);
    b.peerGone('V3', 0);
    pair(b, 10, 'V4', 'P');
    assert.equal(b.stats.evicted, 1);
    assert.equal(b.has(d), false, 'the orphan made room');
    b.offer('V3b', offer(d, 0, 1, ticketOf(9)), 1);
    const late = take()[0]?.m;
    assert.ok(late?.type === 'punch' && /does not know this session/.test(late.reason ?? ''));
    assert.equal(b.has(a), true, 'the relay-closed pair is next, not first');
    assert.equal(b.has(c), true);
    pair(b, 11, 'V5', 'P');
    assert.equal(b.has(a), false);
  });

  it('the pair waits each time its side goes, and waits no more once it is back', () => {
    const { b, take } = broker();
    const id = pair(b, 12);
    b.peerGone('V', 0);
    b.offer('V2', offer(id, 0, 1, ticketOf(12)), 10);
    take();
    assert.equal(b.stats.orphaned, 0);
    // The old connection's close is not about this session any more.
    assert.equal(b.peerGone('V', 20), 0);
    assert.equal(b.stats.orphaned, 0);
    assert.equal(b.peerGone('V2', 30), 1);
    assert.equal(b.nextDeadline(), 10 + 8000, 'the offer waits first; the grace ends at 30 + GRACE');
    b.handleTimeout(30 + GRACE);
    assert.equal(b.stats.pairs, 0);
  });

  it('a side that reconnects before the rendezvous noticed its old connection close takes over from it', () => {
    const { b, take } = broker();
    const id = pair(b, 13);
    b.offer('V2', offer(id, 0, 1, ticketOf(13)), 0);
    assert.equal(take()[0]?.to, 'P');
    assert.equal(b.stats.rejoined, 1);
    // The old connection is no side any more: its offers are a stranger's, its close orphans nothing.
    b.offer('V', offer(id, 1, 1), 1);
    assert.deepEqual(take(), []);
    assert.equal(b.peerGone('V', 2), 0);
    assert.equal(b.stats.orphaned, 0);
  });
});
