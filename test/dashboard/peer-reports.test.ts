/** The rendezvous's store of session reports and the dashboard snapshot built from it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseClientMessage, parseCapabilities, peerIdWithCapabilities, type NatInfoMessage, type PeerRole, type SessionReport } from '../../src/control/index.js';
import { PeerReports } from '../../rendezvous/dashboard/peer-reports.js';
import { buildSnapshot } from '../../rendezvous/dashboard/snapshot.js';
import type { RendezvousView } from '../../rendezvous/dashboard/view.js';

const A = 'aaaaaaaa' + '0'.repeat(24);
const B = 'bbbbbbbb' + '0'.repeat(24);
const CONE: NatInfoMessage = { udp: true, mapping: 'independent', allocation: 'preserving' };
const SYM: NatInfoMessage = { udp: true, mapping: 'dependent', allocation: 'random' };

function report(connId: string, extra: Partial<SessionReport> = {}): SessionReport {
  return { connId, service: 'nas', path: 'relay', bytesSent: 0, bytesReceived: 0, ageSeconds: 1, punchesDirect: 0, punchesFailed: 0, ...extra };
}

/** v1 is the visitor and p1 the provider of session A; nobody else is a side of anything. */
const sides = (peer: string, connId: string): PeerRole | null => (connId !== A ? null : peer === 'v1' ? 'visitor' : peer === 'p1' ? 'provider' : null);

function view(r: PeerReports, extra: Partial<RendezvousView> = {}): RendezvousView {
  return {
    now: 10_000,
    peers: [
      { id: 'v1', role: 'visitor', remote: '127.0.0.1:5', since: 0 },
      { id: 'p1', role: 'provider', remote: '127.0.0.1:6', since: 4000, name: 'home' },
    ],
    services: [['nas', 'p1']],
    relaySessions: [],
    reported: r.sessions,
    failures: r.failures,
    pairOutcomes: r.pairOutcomes,
    punchOutcomes: [],
    reportStats: r.stats,
    reportEveryMs: 2000,
    ...extra,
  };
}

describe('PeerReports', () => {
  it('keeps only sessions the reporting peer is a side of, as that side; drops the rest and counts them', () => {
    const r = new PeerReports(sides);
    assert.equal(r.report('v1', 'visitor', [report(A), report(B), report(A)], 0, true), true);
    assert.equal(r.report('x9', 'visitor', [report(A, { path: 'direct_lan' })], 0, true), true);
    assert.equal(r.report('p1', 'visitor', [report(A)], 0, true), true, 'a provider claiming to be the visitor');
    assert.deepEqual(r.sessions.map((s) => [s.peer, s.connId]), [['v1', A]]);
    assert.deepEqual(r.stats, { reports: 3, reportsDropped: 0, sessionsDropped: 4 });
  });

  it('drops a whole report when none was asked for, or one that comes too soon after the last', () => {
    const r = new PeerReports(sides, { minIntervalMs: 400 });
    assert.equal(r.report('v1', 'visitor', [report(A)], 0, false), false);
    assert.equal(r.report('v1', 'visitor', [report(A, { bytesSent: 10 })], 0, true), true);
    assert.equal(r.report('v1', 'visitor', [report(A, { bytesSent: 99 })], 100, true), false);
    assert.equal(r.sessions[0]?.bytesSent, 10);
    assert.equal(r.stats.reportsDropped, 2);
  });

  it('derives throughput from two reports of a session', () => {
    const r = new PeerReports(sides);
    r.report('v1', 'visitor', [report(A, { bytesSent: 1000, bytesReceived: 0 })], 1000, true);
    r.report('v1', 'visitor', [report(A, { bytesSent: 5000, bytesReceived: 2000 })], 3000, true);
    assert.equal(r.sessions[0]?.sendRate, 2000);
    assert.equal(r.sessions[0]?.receiveRate, 1000);
  });

  it('counts the visitors\' punch outcomes by the NAT pair of the offers, once per attempt', () => {
    const r = new PeerReports(sides);
    r.offer('v1', 'visitor', A, CONE);
    r.offer('p1', 'provider', A, SYM);
    r.report('v1', 'visitor', [report(A, { punchesFailed: 1 })], 0, true);
    r.report('p1', 'provider', [report(A, { punchesFailed: 1 })], 0, true);
    r.report('v1', 'visitor', [report(A, { punchesFailed: 1, punchesDirect: 1 })], 1000, true);
    r.report('v1', 'visitor', [report(A, { punchesFailed: 1, punchesDirect: 1 })], 2000, true);
    assert.deepEqual(r.pairOutcomes, [{ visitorNat: 'cone', providerNat: 'symmetric_random', direct: 1, failed: 1 }]);
    assert.equal(r.natOf('p1'), SYM);
  });

  it('keeps each failure once, newest first, in a bounded ring', () => {
    const r = new PeerReports(sides, { maxFailures: 3, minIntervalMs: 0 });
    for (let n = 0; n < 5; n++) {
      const failure = { attempt: n, reason: `no answer ${n}`, timeline: '+0ms probe-sent 10.0.0.1:4000' };
      r.report('v1', 'visitor', [report(A, { failure })], n * 10, true);
      r.report('v1', 'visitor', [report(A, { failure })], n * 10 + 5, true);
    }
    assert.deepEqual(r.failures.map((f) => f.reason), ['no answer 4', 'no answer 3', 'no answer 2']);
  });

  it('forgets what a peer reported when it goes', () => {
    const r = new PeerReports(sides);
    r.report('v1', 'visitor', [report(A)], 0, true);
    r.peerGone('v1');
    assert.deepEqual(r.sessions, []);
  });
});

describe('the dashboard snapshot', () => {
  it('shows a reported session in the visitor\'s direction, and a relay link no side reports as unknown', () => {
    const r = new PeerReports(sides);
    r.report('p1', 'provider', [report(A, { bytesSent: 7, bytesReceived: 3 })], 0, true);
    const s = buildSnapshot(view(r, { relaySessions: [{ connId: B, service: 'nas', visitor: 'v1', provider: 'p1' }] }));
    assert.deepEqual(s.sessions.map((x) => [x.conn, x.path, x.reportedBy, x.bytesSent, x.bytesReceived]), [
      ['aaaaaaaa', 'relay', 'provider', 3, 7],
      ['bbbbbbbb', 'unknown', null, undefined, undefined],
    ]);
    r.report('v1', 'visitor', [report(A, { path: 'direct_lan', family: 'ipv4', rttMs: 2 })], 0, true);
    const t = buildSnapshot(view(r));
    assert.deepEqual(t.sessions.map((x) => [x.path, x.family, x.rttMs, x.reportedBy]), [['direct_lan', 'ipv4', 2, 'visitor']]);
    assert.deepEqual(t.providers.map((p) => [p.id, p.name, p.services, p.connectedSeconds]), [['p1', 'home', ['nas'], 6]]);
    assert.deepEqual(t.visitors.map((p) => [p.id, p.connectedSeconds, p.nat]), [['v1', 10, 'unknown']]);
    assert.deepEqual(t.services, [{ name: 'nas', provider: 'p1' }]);
  });

  it('merges the broker\'s outcomes and the visitors\' into one row per NAT pair', () => {
    const r = new PeerReports(sides);
    r.offer('v1', 'visitor', A, CONE);
    r.offer('p1', 'provider', A, CONE);
    r.report('v1', 'visitor', [report(A, { punchesDirect: 1 })], 0, true);
    const s = buildSnapshot(view(r, { punchOutcomes: [{ outcome: 'introduced', visitorNat: 'cone', providerNat: 'cone', count: 2 }] }));
    assert.deepEqual(s.punchPairs, [{ visitorNat: 'cone', providerNat: 'cone', direct: 1, failed: 0, introduced: 2, declined: 0, timeout: 0 }]);
  });
});

describe('the report message and the capability to send it', () => {
  it('accepts a report and refuses one with a field it does not know, or too long a timeline', () => {
    const ok = { type: 'report', sessions: [report(A, { failure: { attempt: 1, reason: 'x', timeline: 'y' } })] };
    assert.equal(parseClientMessage(ok).ok, true);
    assert.equal(parseClientMessage({ type: 'report', sessions: [{ ...report(A), key: 'k' }] }).ok, false);
    assert.equal(parseClientMessage({ type: 'report', sessions: [report(A, { failure: { attempt: 1, reason: 'x', timeline: 'y'.repeat(4001) } })] }).ok, false);
    assert.equal(parseClientMessage({ type: 'report', sessions: Array.from({ length: 65 }, () => report(A)) }).ok, false);
  });

  it('carries the report interval in the welcome\'s peerId, which an older rendezvous leaves bare', () => {
    assert.deepEqual(parseCapabilities('p12'), { peerId: 'p12', caps: { reportEveryMs: null } });
    assert.deepEqual(parseCapabilities(peerIdWithCapabilities('p12', { reportEveryMs: 5000 })), { peerId: 'p12', caps: { reportEveryMs: 5000 } });
    assert.deepEqual(parseCapabilities('p12 report=1 later=yes'), { peerId: 'p12', caps: { reportEveryMs: 1000 } });
    assert.equal(peerIdWithCapabilities('p12', { reportEveryMs: null }), 'p12');
  });
});
