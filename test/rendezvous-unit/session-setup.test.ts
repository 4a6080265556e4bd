/** SessionSetup, the rendezvous's sans-I/O session setup, on a fake clock: messages in, outputs out. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_RENDEZVOUS_LIMITS } from '../../rendezvous/limits.js';
import { PUNCH_REJOIN_GRACE_MS } from '../../rendezvous/punch-broker.js';
import { SessionSetup, type SetupLimits, type SetupOutput } from '../../rendezvous/session-setup.js';
import type { RandomSource } from '../../src/clock/random.js';
import type { CandidateMessage, ServerMessage } from '../../src/control/messages.js';
import { sessionId } from './loopback-peer.js';

const HELLO = Buffer.alloc(8, 1).toString('base64');

/** Distinct, repeatable "random" bytes. */
function counterRandom(): RandomSource {
  let n = 0;
  return { bytes: (len: number) => Buffer.alloc(len, ++n % 256), next: () => 0.5 };
}

function setup(limits: Partial<SetupLimits> = {}): SessionSetup {
  return new SessionSetup({ ...DEFAULT_RENDEZVOUS_LIMITS, ...limits }, counterRandom());
}

const sends = (out: SetupOutput[]) => out.filter((o): o is Extract<SetupOutput, { kind: 'send' }> => o.kind === 'send').map((o) => ({ to: o.to, message: o.message }));
const only = (out: SetupOutput[], to: string) => sends(out).filter((s) => s.to === to).map((s) => s.message);
const one = <T extends ServerMessage['type']>(out: SetupOutput[], to: string, type: T): Extract<ServerMessage, { type: T }> => {
  const ms = only(out, to).filter((m) => m.type === type);
  assert.equal(ms.length, 1, `one "${type}" to ${to}; got ${JSON.stringify(out)}`);
  return ms[0] as Extract<ServerMessage, { type: T }>;
};
const cand = (port: number): CandidateMessage[] => [{ kind: 'srflx', address: '203.0.113.9', port }];

/** A provider "P" serving "svc" and a visitor "V", logged in. */
function withPeers(limits: Partial<SetupLimits> = {}): SessionSetup {
  const s = setup(limits);
  s.peerJoined('P', 'provider');
  s.peerJoined('V', 'visitor');
  s.handle('P', { type: 'register', services: ['svc'] }, 0);
  assert.deepEqual(one(s.takeOutputs(), 'P', 'registered'), { type: 'registered', services: ['svc'] });
  return s;
}

/** Runs connect → accept → confirm; returns the two relay tickets. */
function handshake(s: SessionSetup, id: string, now: number, direct = true, visitor = 'V'): { visitorTicket: Buffer; providerTicket: Buffer } {
  s.handle(visitor, { type: 'connect', connId: id, service: 'svc', hello: HELLO }, now);
  assert.equal(one(s.takeOutputs(), 'P', 'incoming').connId, id);
  s.handle('P', { type: 'accept', connId: id, reply: HELLO }, now);
  const reply = one(s.takeOutputs(), visitor, 'reply');
  s.handle(visitor, { type: 'confirm', connId: id, confirm: HELLO, direct }, now);
  const confirm = one(s.takeOutputs(), 'P', 'confirm');
  assert.equal(confirm.direct, direct ? true : undefined);
  return { visitorTicket: Buffer.from(reply.ticket, 'base64'), providerTicket: Buffer.from(confirm.ticket, 'base64') };
}

describe('SessionSetup: pairing and relay tickets', () => {
  it('pairs a visitor with the provider, hands out two different tickets, and splices the two relay joins', () => {
    const s = withPeers();
    const id = sessionId(1);
    const t = handshake(s, id, 0);
    assert.notDeepEqual(t.visitorTicket, t.providerTicket);
    assert.equal(s.relayJoin('rv', id, t.visitorTicket), true);
    assert.deepEqual(s.takeOutputs(), []);
    assert.equal(s.relayJoin('rp', id, t.providerTicket), true);
    const out = s.takeOutputs();
    const splice = out.find((o) => o.kind === 'splice');
    assert.deepEqual(splice, { kind: 'splice', link: 1, connId: id, service: 'svc', visitor: 'rv', provider: 'rp' });
    assert.equal(s.stats.pending, 0);
    assert.equal(s.stats.relayLinks, 1);
    s.relayEnded(1);
    assert.equal(s.stats.relayLinks, 0);
  });

  it('refuses a wrong ticket, a ticket used twice, and the provider\'s ticket before the confirm', () => {
    const s = withPeers();
    const id = sessionId(2);
    s.handle('V', { type: 'connect', connId: id, service: 'svc', hello: HELLO }, 0);
    s.handle('P', { type: 'accept', connId: id, reply: HELLO }, 0);
    const ticket = Buffer.from(one(s.takeOutputs(), 'V', 'reply').ticket, 'base64');
    assert.equal(s.relayJoin('x', id, Buffer.alloc(32, 0xee)), false);
    assert.deepEqual(s.takeOutputs(), [{ kind: 'refuse', to: 'x', code: 'BAD_TICKET', message: 'unknown or expired relay ticket' }]);
    assert.equal(s.relayJoin('rv', id, ticket), true);
    assert.equal(s.relayJoin('rv2', id, ticket), false, 'a ticket joins once');
    assert.equal(s.relayJoin('y', sessionId(99), ticket), false, 'the ticket is only good for its session');
    assert.equal(s.stats.relayJoinsRefused, 3);
  });

  it('says why a connect fails: no such service, a busy id, only visitors connect, only providers register', () => {
    const s = withPeers({ maxPendingPerVisitor: 1 });
    s.handle('V', { type: 'connect', connId: sessionId(1), service: 'nope', hello: HELLO }, 0);
    assert.equal(one(s.takeOutputs(), 'V', 'connect-failed').code, 'NO_SUCH_SERVICE');
    s.handle('V', { type: 'connect', connId: sessionId(1), service: 'svc', hello: HELLO }, 0);
    s.takeOutputs();
    s.handle('V', { type: 'connect', connId: sessionId(1), service: 'svc', hello: HELLO }, 0);
    assert.equal(one(s.takeOutputs(), 'V', 'connect-failed').code, 'BUSY');
    s.handle('V', { type: 'connect', connId: sessionId(2), service: 'svc', hello: HELLO }, 0);
    assert.match(one(s.takeOutputs(), 'V', 'connect-failed').message, /too many session setups/);
    s.handle('P', { type: 'connect', connId: sessionId(3), service: 'svc', hello: HELLO }, 0);
    assert.deepEqual(one(s.takeOutputs(), 'P', 'error'), { type: 'error', code: 'PROTOCOL', message: 'only visitors connect', fatal: false });
    s.handle('V', { type: 'register', services: ['x'] }, 0);
    assert.equal(one(s.takeOutputs(), 'V', 'error').code, 'PROTOCOL');
  });

  it('passes the provider\'s refusal on and forgets the setup', () => {
    const s = withPeers();
    const id = sessionId(4);
    s.handle('V', { type: 'connect', connId: id, service: 'svc', hello: HELLO }, 0);
    s.takeOutputs();
    s.handle('P', { type: 'refuse', connId: id, code: 'SECRET_MISMATCH', message: 'no' }, 0);
    assert.deepEqual(one(s.takeOutputs(), 'V', 'connect-failed'), { type: 'connect-failed', connId: id, code: 'SECRET_MISMATCH', message: 'no' });
    assert.equal(s.stats.pending, 0);
    assert.equal(s.nextDeadline(), null);
  });

  it('ignores an accept from a provider that does not serve the session, and a confirm from another visitor', () => {
    const s = withPeers();
    s.peerJoined('P2', 'provider');
    s.peerJoined('V2', 'visitor');
    const id = sessionId(5);
    s.handle('V', { type: 'connect', connId: id, service: 'svc', hello: HELLO }, 0);
    s.takeOutputs();
    s.handle('P2', { type: 'accept', connId: id, reply: HELLO }, 0);
    assert.deepEqual(s.takeOutputs(), []);
    s.handle('P', { type: 'accept', connId: id, reply: HELLO }, 0);
    s.takeOutputs();
    s.handle('V2', { type: 'confirm', connId: id, confirm: HELLO, direct: true }, 0);
    assert.deepEqual(s.takeOutputs(), []);
  });
});

describe('SessionSetup: expiry and peers going', () => {
  it('a setup that does not complete expires exactly at its deadline, with TIMEOUT to the visitor and its relay join closed', () => {
    const s = withPeers({ pendingTimeoutMs: 20_000 });
    const id = sessionId(6);
    s.handle('V', { type: 'connect', connId: id, service: 'svc', hello: HELLO }, 1000);
    s.handle('P', { type: 'accept', connId: id, reply: HELLO }, 1500);
    const ticket = Buffer.from(one(s.takeOutputs(), 'V', 'reply').ticket, 'base64');
    assert.equal(s.relayJoin('rv', id, ticket), true);
    assert.equal(s.nextDeadline(), 21_000);
    s.handleTimeout(20_999);
    assert.deepEqual(s.takeOutputs(), []);
    s.handleTimeout(21_000);
    const out = s.takeOutputs();
    assert.equal(one(out, 'V', 'connect-failed').code, 'TIMEOUT');
    assert.ok(out.some((o) => o.kind === 'close' && o.to === 'rv'));
    assert.equal(s.nextDeadline(), null);
    assert.equal(s.stats.pending, 0);
  });

  it('the earliest of several setups sets the deadline', () => {
    const s = withPeers({ pendingTimeoutMs: 100 });
    for (let i = 0; i < 3; i++) s.handle('V', { type: 'connect', connId: sessionId(10 + i), service: 'svc', hello: HELLO }, i * 10);
    s.takeOutputs();
    assert.equal(s.nextDeadline(), 100);
    s.handleTimeout(115);
    assert.equal(only(s.takeOutputs(), 'V').length, 2);
    assert.equal(s.nextDeadline(), 120);
  });

  it('a provider that goes fails its setups (PROVIDER_GONE) and frees its service names', () => {
    const s = withPeers();
    const id = sessionId(7);
    s.handle('V', { type: 'connect', connId: id, service: 'svc', hello: HELLO }, 0);
    s.takeOutputs();
    s.peerGone('P', 0);
    const out = s.takeOutputs();
    assert.equal(one(out, 'V', 'connect-failed').code, 'PROVIDER_GONE');
    assert.equal(s.stats.services, 0);
    s.peerJoined('P2', 'provider');
    s.handle('P2', { type: 'register', services: ['svc'] }, 0);
    assert.equal(one(s.takeOutputs(), 'P2', 'registered').type, 'registered');
  });
});

describe('SessionSetup: punch brokering', () => {
  it('introduces the two peers with each other\'s candidates, timing the starts from their round trips', () => {
    const s = withPeers();
    const id = sessionId(8);
    handshake(s, id, 0);
    s.peerRtt('V', 100);
    s.peerRtt('P', 20);
    s.handle('V', { type: 'offer', connId: id, attempt: 0, candidates: cand(1111) }, 0);
    assert.deepEqual(one(s.takeOutputs(), 'P', 'punch-request'), { type: 'punch-request', connId: id, attempt: 0 });
    s.handle('P', { type: 'offer', connId: id, attempt: 0, candidates: cand(2222) }, 5);
    const out = s.takeOutputs();
    const toV = one(out, 'V', 'punch');
    const toP = one(out, 'P', 'punch');
    assert.deepEqual(toV.candidates, cand(2222));
    assert.deepEqual(toP.candidates, cand(1111));
    // Both start at max(rtt)/2 + 20 ms from now: the nearer provider waits 40 ms longer.
    assert.equal(toV.startInMs, 20);
    assert.equal(toP.startInMs, 60);
    assert.equal(s.stats.punch.brokered, 1);
  });

  it('an offer from a third peer for someone else\'s session is ignored (and counted)', () => {
    const s = withPeers();
    s.peerJoined('X', 'visitor');
    const id = sessionId(9);
    handshake(s, id, 0);
    s.handle('X', { type: 'offer', connId: id, attempt: 0, candidates: cand(6666) }, 0);
    const out = s.takeOutputs();
    assert.deepEqual(sends(out), [], 'nothing goes to anyone');
    assert.ok(out.some((o) => o.kind === 'log' && o.event === 'punch-offer-ignored'));
    assert.equal(s.stats.punch.offersIgnored, 1);
    s.handle('V', { type: 'offer', connId: id, attempt: 0, candidates: cand(1111) }, 0);
    s.takeOutputs();
    s.handle('P', { type: 'offer', connId: id, attempt: 0, candidates: cand(2222) }, 0);
    const intro = s.takeOutputs();
    assert.deepEqual(one(intro, 'P', 'punch').candidates, cand(1111));
    assert.deepEqual(only(intro, 'X'), []);
  });

  it('a session without direct (stcp) cannot punch', () => {
    const s = withPeers();
    const id = sessionId(10);
    handshake(s, id, 0, false);
    s.handle('V', { type: 'offer', connId: id, attempt: 0, candidates: cand(1111) }, 0);
    assert.match(one(s.takeOutputs(), 'V', 'punch').reason ?? '', /does not know this session/);
  });

  it('an offer the other side never answers times out at the offer deadline', () => {
    const s = withPeers({ punchOfferTimeoutMs: 8000 });
    const id = sessionId(11);
    handshake(s, id, 0);
    assert.equal(s.nextDeadline(), 20_000, 'the setup waits for relay joins');
    s.handleTimeout(20_000);
    s.takeOutputs();
    // The setup is over, not the session: it may still punch.
    s.handle('V', { type: 'offer', connId: id, attempt: 0, candidates: cand(1111) }, 100_000);
    s.takeOutputs();
    assert.equal(s.nextDeadline(), 108_000);
    s.handleTimeout(108_000);
    assert.match(one(s.takeOutputs(), 'V', 'punch').reason ?? '', /the provider sent no candidates within 8000 ms/);
  });

  it('a session older than the broker\'s capacity still re-punches once the sessions after it have ended', () => {
    const s = withPeers({ maxPunchPairs: 4, maxPendingPerVisitor: 100 });
    const old = sessionId(0xabc);
    handshake(s, old, 0);
    for (let batch = 0; batch < 3; batch++) {
      const v = `W${batch}`;
      s.peerJoined(v, 'visitor');
      for (let i = 0; i < 3; i++) handshake(s, sessionId(batch * 10 + i + 1), 1, true, v);
      s.peerGone(v, 1);
      s.takeOutputs();
    }
    // The gone visitors' sessions waited for them (first to make room), then their grace ended.
    s.handleTimeout(1 + PUNCH_REJOIN_GRACE_MS);
    s.takeOutputs();
    assert.equal(s.stats.punch.pairs, 1);
    assert.equal(s.stats.punch.orphaned, 0);
    s.handle('V', { type: 'offer', connId: old, attempt: 3, candidates: cand(1111) }, 2);
    assert.equal(one(s.takeOutputs(), 'P', 'punch-request').attempt, 3);
    s.handle('P', { type: 'offer', connId: old, attempt: 3, candidates: cand(2222) }, 2);
    assert.deepEqual(one(s.takeOutputs(), 'V', 'punch').candidates, cand(2222));
  });

  it('at capacity with every session live, the least recently active pair is the one evicted', () => {
    const s = withPeers({ maxPunchPairs: 2 });
    const [a, b, c] = [sessionId(21), sessionId(22), sessionId(23)];
    handshake(s, a, 0);
    handshake(s, b, 0);
    // a punches again: b is now the least recently active.
    s.handle('V', { type: 'offer', connId: a, attempt: 0, candidates: cand(1) }, 1);
    handshake(s, c, 2);
    s.takeOutputs();
    assert.equal(s.stats.punch.evicted, 1);
    s.handle('V', { type: 'offer', connId: b, attempt: 0, candidates: cand(1) }, 3);
    assert.match(one(s.takeOutputs(), 'V', 'punch').reason ?? '', /does not know this session/);
    s.handle('V', { type: 'offer', connId: a, attempt: 1, candidates: cand(1) }, 3);
    assert.equal(one(s.takeOutputs(), 'P', 'punch-request').attempt, 1);
  });

  it('at capacity, a session whose relay closed is evicted before a live one, yet it may still punch until then', () => {
    const s = withPeers({ maxPunchPairs: 2 });
    const [a, b, c] = [sessionId(41), sessionId(42), sessionId(43)];
    handshake(s, a, 0);
    const t = handshake(s, b, 0);
    s.relayJoin('rv', b, t.visitorTicket);
    s.relayJoin('rp', b, t.providerTicket);
    const splice = s.takeOutputs().find((o) => o.kind === 'splice');
    assert.ok(splice && splice.kind === 'splice');
    s.relayEnded(splice.link);
    // b is the most recently active, but its relay is gone: it is the one to make room.
    handshake(s, c, 1);
    s.takeOutputs();
    s.handle('V', { type: 'offer', connId: b, attempt: 0, candidates: cand(1) }, 2);
    assert.match(one(s.takeOutputs(), 'V', 'punch').reason ?? '', /does not know this session/);
    s.handle('V', { type: 'offer', connId: a, attempt: 0, candidates: cand(1) }, 2);
    assert.equal(one(s.takeOutputs(), 'P', 'punch-request').attempt, 0);
  });

  it('a session whose relay closed but which punches again is alive: not evicted first', () => {
    const s = withPeers({ maxPunchPairs: 2 });
    const [a, b, c] = [sessionId(51), sessionId(52), sessionId(53)];
    const t = handshake(s, a, 0);
    s.relayJoin('rv', a, t.visitorTicket);
    s.relayJoin('rp', a, t.providerTicket);
    const splice = s.takeOutputs().find((o) => o.kind === 'splice');
    assert.ok(splice && splice.kind === 'splice');
    s.relayEnded(splice.link);
    handshake(s, b, 1);
    // a loses its relay and punches again (DirectLink.relayLost): it is in use.
    s.handle('V', { type: 'offer', connId: a, attempt: 0, candidates: cand(1) }, 2);
    handshake(s, c, 3);
    s.takeOutputs();
    s.handle('V', { type: 'offer', connId: a, attempt: 1, candidates: cand(1) }, 4);
    assert.equal(one(s.takeOutputs(), 'P', 'punch-request').attempt, 1);
    s.handle('V', { type: 'offer', connId: b, attempt: 0, candidates: cand(1) }, 4);
    assert.match(one(s.takeOutputs(), 'V', 'punch').reason ?? '', /does not know this session/);
  });

  it('when a peer goes and does not come back within the grace, its sessions can no longer punch, and a stranger cannot take the id over', () => {
    const s = withPeers();
    const id = sessionId(30);
    handshake(s, id, 0);
    s.peerJoined('V2', 'visitor');
    s.handle('V2', { type: 'connect', connId: id, service: 'svc', hello: HELLO }, 0);
    assert.equal(one(s.takeOutputs(), 'V2', 'connect-failed').code, 'BUSY', 'a live session\'s id is taken');
    s.peerGone('P', 0);
    s.takeOutputs();
    assert.equal(s.stats.punch.orphaned, 1);
    assert.equal(s.nextDeadline(), PUNCH_REJOIN_GRACE_MS, 'the pair waits for the provider to come back');
    s.handleTimeout(PUNCH_REJOIN_GRACE_MS);
    s.takeOutputs();
    assert.equal(s.stats.punch.pairs, 0);
    s.handle('V', { type: 'offer', connId: id, attempt: 0, candidates: cand(1) }, PUNCH_REJOIN_GRACE_MS + 1);
    assert.match(one(s.takeOutputs(), 'V', 'punch').reason ?? '', /does not know this session/);
  });

  it('a visitor back on a new control connection takes its side over with its ticket, and the punch is introduced', () => {
    const s = withPeers();
    const id = sessionId(31);
    const t = handshake(s, id, 0);
    s.peerGone('V', 100);
    s.takeOutputs();
    s.peerJoined('V2', 'visitor');
    // A stranger's ticket (the provider's is not the visitor's either way: it would take the provider's side).
    s.handle('V2', { type: 'offer', connId: id, attempt: 1, candidates: cand(1111), ticket: Buffer.alloc(32, 0xee).toString('base64') }, 200);
    assert.deepEqual(sends(s.takeOutputs()), [], 'a wrong ticket gets no answer');
    s.handle('V2', { type: 'offer', connId: id, attempt: 1, candidates: cand(1111), ticket: t.visitorTicket.toString('base64') }, 200);
    assert.equal(one(s.takeOutputs(), 'P', 'punch-request').attempt, 1);
    s.handle('P', { type: 'offer', connId: id, attempt: 1, candidates: cand(2222) }, 210);
    const out = s.takeOutputs();
    assert.deepEqual(one(out, 'V2', 'punch').candidates, cand(2222));
    assert.deepEqual(one(out, 'P', 'punch').candidates, cand(1111));
    assert.deepEqual(only(out, 'V'), []);
    assert.equal(s.stats.punch.rejoined, 1);
    assert.equal(s.stats.punch.offersIgnored, 1);
    assert.equal(s.stats.punch.orphaned, 0);
    // The new connection is the visitor now: when it goes, the pair waits again.
    s.peerGone('V2', 300);
    assert.equal(s.stats.punch.orphaned, 1);
  });
});

describe('SessionSetup: the service limit', () => {
  it('refuses a registration past maxServices with FULL, and takes it again once room is made', () => {
    const s = setup({ maxServices: 2 });
    s.peerJoined('P1', 'provider');
    s.peerJoined('P2', 'provider');
    s.handle('P1', { type: 'register', services: ['a', 'b'] }, 0);
    assert.equal(one(s.takeOutputs(), 'P1', 'registered').services.length, 2);
    s.handle('P2', { type: 'register', services: ['c'] }, 0);
    const err = one(s.takeOutputs(), 'P2', 'error');
    assert.equal(err.code, 'FULL');
    assert.match(err.message, /no room for more services/);
    s.peerGone('P1', 0);
    s.takeOutputs();
    s.handle('P2', { type: 'register', services: ['c'] }, 0);
    assert.deepEqual(one(s.takeOutputs(), 'P2', 'registered').services, ['c']);
  });
});
