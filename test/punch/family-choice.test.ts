/**
 * A punch over both address families (sans-I/O, no network): two
 * PunchSessions joined by a scripted wire with one delay per family. With
 * both families open the lower RTT wins, IPv6 counted at 0.9 of its RTT; a
 * LAN path still wins; a family without a socket is never probed; waiting at
 * a port mapping keeps only the IPv4 socket quiet.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { addressFamily } from '../../src/net/ip.js';
import type { UdpEndpoint } from '../../src/net/udp-socket.js';
import {
  ProbeCodec,
  PunchSession,
  derivePunchKeys,
  describePath,
  type Candidate,
  type FamilySockets,
  type Transmit,
} from '../../src/punch/index.js';

interface PeerSpec {
  v4: UdpEndpoint | null;
  v6: UdpEndpoint | null;
  /** Extra candidates (e.g. a LAN host address). */
  extra?: Candidate[];
  localHosts?: string[];
  awaitPeer?: boolean;
}

interface Flight {
  at: number;
  to: 'a' | 'b';
  socket: number;
  from: UdpEndpoint;
  data: Buffer;
}

/** Runs the punch to its end on a fake clock; one-way delay per family (and for the LAN address, if any). */
function punch(a: PeerSpec, b: PeerSpec, oneWay: { v4: number; v6: number; lan?: number }) {
  const key = randomBytes(32);
  const codecs = { a: new ProbeCodec(derivePunchKeys(key, 'initiator', 'c'), randomBytes), b: new ProbeCodec(derivePunchKeys(key, 'responder', 'c'), randomBytes) };
  const cands = (p: PeerSpec): Candidate[] => [
    ...(p.extra ?? []),
    ...(p.v4 ? [{ kind: 'srflx' as const, ...p.v4 }] : []),
    ...(p.v6 ? [{ kind: 'host' as const, ...p.v6 }] : []),
  ];
  const sockets = (p: PeerSpec): FamilySockets => ({ ...(p.v4 ? { v4: 0 } : {}), ...(p.v6 ? { v6: 1 } : {}) });
  const mk = (self: PeerSpec, peer: PeerSpec, side: 'a' | 'b') =>
    new PunchSession({
      codec: codecs[side],
      remote: cands(peer),
      startAt: 0,
      random: randomBytes,
      primeTtl: 0,
      lanGraceMs: 150,
      localHosts: self.localHosts ?? [],
      sockets: sockets(self),
      ...(self.awaitPeer ? { awaitPeer: true } : {}),
    });
  const sessions = { a: mk(a, b, 'a'), b: mk(b, a, 'b') };
  const specs = { a, b };
  const sent: { side: 'a' | 'b'; t: Transmit }[] = [];
  let flights: Flight[] = [];
  let now = 0;
  const deliver = (side: 'a' | 'b', out: Transmit[]) => {
    const peer = side === 'a' ? 'b' : 'a';
    const me = specs[side];
    for (const t of out) {
      sent.push({ side, t });
      const target = specs[peer];
      const lanHost = target.extra?.find((c) => c.kind === 'host');
      let delay: number | null = null;
      let from: UdpEndpoint | null = null;
      let socket = 0;
      if (target.v4 && t.to.address === target.v4.address && t.to.port === target.v4.port && me.v4) [delay, from, socket] = [oneWay.v4, me.v4, 0];
      else if (target.v6 && t.to.address === target.v6.address && me.v6) [delay, from, socket] = [oneWay.v6, me.v6, 1];
      else if (lanHost && t.to.address === lanHost.address && oneWay.lan !== undefined) {
        const myLan = me.extra?.find((c) => c.kind === 'host');
        if (myLan) [delay, from, socket] = [oneWay.lan, myLan, 0];
      }
      if (delay !== null && from !== null) flights.push({ at: now + delay, to: peer, socket, from, data: t.data });
    }
  };
  for (let step = 0; step < 20_000; step++) {
    for (const side of ['a', 'b'] as const) {
      sessions[side].tick(now);
      deliver(side, sessions[side].drain());
    }
    if (sessions.a.state !== 'punching' && sessions.a.state !== 'waiting' && sessions.b.state !== 'punching' && sessions.b.state !== 'waiting') break;
    const due = flights.filter((f) => f.at <= now);
    flights = flights.filter((f) => f.at > now);
    for (const f of due) {
      const p = codecs[f.to].open(f.data);
      if (p !== null) sessions[f.to].handle(p, f.from, f.socket, now);
      deliver(f.to, sessions[f.to].drain());
    }
    const deadlines = [sessions.a.nextDeadline(), sessions.b.nextDeadline(), ...flights.map((f) => f.at)].filter((x): x is number => x !== null && x > now);
    if (deadlines.length === 0) break;
    now = Math.min(...deadlines);
  }
  return { a: sessions.a, b: sessions.b, sent };
}

const A4 = { address: '198.51.100.10', port: 40000 };
const B4 = { address: '203.0.113.20', port: 50000 };
const A6 = { address: '2001:db8:1::2', port: 40001 };
const B6 = { address: '2001:db8:2::2', port: 50001 };

test('equal RTTs on both families: both peers keep IPv6, labelled "direct internet IPv6"', () => {
  const r = punch({ v4: A4, v6: A6 }, { v4: B4, v6: B6 }, { v4: 10, v6: 10 });
  assert.equal(r.a.state, 'locked');
  assert.equal(r.a.locked?.remote.address, B6.address);
  assert.equal(r.a.locked?.socket, 1);
  assert.equal(r.b.locked?.remote.address, A6.address);
  assert.equal(describePath({ address: r.a.locked?.remote.address ?? '', lan: r.a.locked?.lan ?? true }), 'direct internet IPv6');
});

test('IPv4 clearly faster (10 vs 30 ms one way): IPv4 is kept, labelled "direct internet"', () => {
  const r = punch({ v4: A4, v6: A6 }, { v4: B4, v6: B6 }, { v4: 10, v6: 30 });
  assert.equal(r.a.locked?.remote.address, B4.address);
  assert.equal(r.a.locked?.socket, 0);
  assert.equal(describePath({ address: B4.address, lan: r.a.locked?.lan ?? true }), 'direct internet');
});

test('IPv6 a little slower (within the 0.9 factor): IPv6 is still kept', () => {
  const r = punch({ v4: A4, v6: A6 }, { v4: B4, v6: B6 }, { v4: 20, v6: 21 });
  assert.equal(r.a.locked?.remote.address, B6.address);
});

test('without an IPv6 socket nothing is sent to the peer\'s IPv6 candidates, and IPv4 locks', () => {
  const r = punch({ v4: A4, v6: null }, { v4: B4, v6: B6 }, { v4: 10, v6: 1 });
  assert.equal(r.a.locked?.remote.address, B4.address);
  assert.equal(r.sent.filter((s) => s.side === 'a' && addressFamily(s.t.to.address) === 6).length, 0);
  assert.ok(r.sent.some((s) => s.side === 'a' && addressFamily(s.t.to.address) === 4));
});

test('a LAN path wins over a faster IPv6 internet path', () => {
  const lanA: Candidate = { kind: 'host', address: '192.168.1.10', port: 40000 };
  const lanB: Candidate = { kind: 'host', address: '192.168.1.20', port: 50000 };
  const r = punch(
    { v4: A4, v6: A6, extra: [lanA], localHosts: ['192.168.1.10', A6.address] },
    { v4: B4, v6: B6, extra: [lanB], localHosts: ['192.168.1.20', B6.address] },
    { v4: 10, v6: 1, lan: 20 },
  );
  assert.equal(r.a.locked?.remote.address, lanB.address);
  assert.equal(r.a.locked?.lan, true);
});

test('an IPv6 host address in our own /64 is a LAN path ("direct LAN IPv6"); one outside it is the internet', () => {
  const A = { address: '2001:db8:5::10', port: 1 };
  const B = { address: '2001:db8:5::20', port: 2 };
  const r = punch({ v4: null, v6: A, localHosts: [A.address] }, { v4: null, v6: B, localHosts: [B.address] }, { v4: 1, v6: 5 });
  assert.equal(r.a.locked?.lan, true);
  assert.equal(describePath({ address: B.address, lan: true }), 'direct LAN IPv6');
  const far = punch({ v4: null, v6: A6, localHosts: [A6.address] }, { v4: null, v6: B6, localHosts: [B6.address] }, { v4: 1, v6: 5 });
  assert.equal(far.a.locked?.lan, false);
});

test('waiting at a port mapping keeps the IPv4 socket quiet but still probes IPv6', () => {
  const r = punch({ v4: A4, v6: A6, awaitPeer: true }, { v4: B4, v6: B6 }, { v4: 10, v6: 10 });
  const fromA = r.sent.filter((s) => s.side === 'a');
  assert.ok(fromA.some((s) => s.t.socket === 1 && addressFamily(s.t.to.address) === 6), 'IPv6 probes sent');
  // On IPv4, A only answers (acks, and probes back where a probe came from): never before B's probe reached it.
  const firstV4 = fromA.find((s) => s.t.socket === 0);
  assert.ok(firstV4 === undefined || r.sent.findIndex((s) => s === firstV4) > r.sent.findIndex((s) => s.side === 'b' && s.t.socket === 0));
  assert.equal(r.a.state, 'locked');
});
