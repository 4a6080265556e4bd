/**
 * planFamilies: each address family on its own. IPv4 by the two NATs
 * (planPunch); IPv6 whenever both sides offered IPv6 candidates, whatever
 * IPv4 does; the peer's candidates of a family that will not be punched are
 * left out, and the reason names both families.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planFamilies } from '../../peer/direct/family-plan.js';
import type { Candidate, SessionNatInfo } from '../../src/punch/index.js';

const cone: SessionNatInfo = { udp: true, mapping: 'independent', allocation: 'preserving' };
const symmetric: SessionNatInfo = { udp: true, mapping: 'dependent', allocation: 'random' };
const blocked: SessionNatInfo = { udp: false, mapping: 'unknown', allocation: 'unknown' };
const v4: Candidate = { kind: 'srflx', address: '203.0.113.9', port: 4000 };
const v6: Candidate = { kind: 'host', address: '2001:db8:2::2', port: 5000 };

const plan = (local: Partial<Parameters<typeof planFamilies>[0]['local']>, remoteNat: SessionNatInfo, candidates: Candidate[]) =>
  planFamilies({
    local: { nat: cone, sockets: { v4: 0, v6: 1 }, offeredMapped: false, offeredIpv6: true, ...local },
    remote: { nat: remoteNat, candidates },
    birthday: true,
    localLeads: true,
  });

test('IPv4 hopeless (two random-symmetric NATs), both offered IPv6: punch IPv6 only', () => {
  const p = plan({ nat: symmetric }, symmetric, [v4, v6]);
  assert.equal(p.v4.direct, false);
  assert.equal(p.v6, true);
  assert.deepEqual(p.remote, [v6]);
  assert.match(p.reason, /no punch can meet; IPv6: both sides offered IPv6 candidates/);
});

test('both families punchable: the peer\'s candidates of both are probed', () => {
  const p = plan({}, cone, [v4, v6]);
  assert.equal(p.v4.direct, true);
  assert.equal(p.v6, true);
  assert.deepEqual(p.remote, [v4, v6]);
});

test('the peer offered IPv6 but this side did not: IPv4 only, and the reason says whose side lacks it', () => {
  const p = plan({ offeredIpv6: false }, cone, [v4, v6]);
  assert.equal(p.v6, false);
  assert.deepEqual(p.remote, [v4]);
  assert.match(p.reason, /IPv6: this side offered none/);
  const q = plan({}, cone, [v4]);
  assert.match(q.reason, /IPv6: the peer offered none/);
});

test('no IPv4 UDP here: the reason discovery gave (e.g. no IPv4 route) is the IPv4 verdict, not "UDP blocked"', () => {
  const p = plan({ nat: blocked, reason: 'no IPv4 route to the rendezvous' }, cone, [v4, v6]);
  assert.equal(p.v4.direct, false);
  assert.equal(p.v4.reason, 'this side: no IPv4 route to the rendezvous');
  assert.deepEqual(p.remote, [v6]);
  const q = plan({ nat: blocked }, cone, [v4]);
  assert.match(q.v4.reason, /UDP is blocked on this side/);
  assert.equal(q.v6, false);
  assert.deepEqual(q.remote, []);
});

test('without an IPv4 session socket (bound to one IPv6 address), IPv4 candidates are never planned', () => {
  const p = plan({ sockets: { v6: 0 } }, cone, [v4, v6]);
  assert.equal(p.v4.direct, false);
  assert.match(p.v4.reason, /no IPv4 session socket/);
  assert.deepEqual(p.remote, [v6]);
});
