/**
 * The in-process router's NAT-PMP/PCP server (sans-I/O) and the NAT table's
 * forwards, checked with the client's own codecs: what miniupnpd 2.3.1 does
 * with conflicts, deletions, nonces, lifetimes and bad input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeNatPmpResponse, encodeMapRequest as natPmpMap, encodeExternalAddressRequest } from '../../src/portmap/natpmp.js';
import { decodePcpResponse, encodeMapRequest as pcpMap, PcpResult } from '../../src/portmap/pcp.js';
import type { UdpEndpoint } from '../../src/net/udp-socket.js';
import { SeededRandom } from '../../netsim/random.js';
import { NatTable } from '../../netsim/virtual/nat.js';
import { PortMapServer, wanAddressReserved, type ForwardTable } from '../../netsim/virtual/portmap-server.js';

const A = { address: '10.1.0.2', port: 5000 };
const B = { address: '10.1.0.3', port: 5000 };

function server(opts: { natpmp?: boolean; pcp?: boolean; wan?: string; maxLeases?: number } = {}) {
  const calls: string[] = [];
  const forwards: ForwardTable = {
    addForward: (port, internal) => void calls.push(`add ${port} ${internal.address}:${internal.port}`),
    removeForward: (port) => {
      calls.push(`remove ${port}`);
      return true;
    },
  };
  const s = new PortMapServer(
    { natpmp: opts.natpmp ?? true, pcp: opts.pcp ?? true, wanAddress: opts.wan ?? '203.0.113.10', ...(opts.maxLeases ? { maxLeases: opts.maxLeases } : {}) },
    forwards,
    0,
  );
  return { s, calls };
}

const nonce = (n: number) => Buffer.alloc(12, n);

function pcp(s: PortMapServer, from: UdpEndpoint, req: { internalPort: number; suggested?: number; lifetime: number; nonce?: Buffer; client?: string }, now = 0) {
  const data = pcpMap({
    nonce: req.nonce ?? nonce(1),
    clientAddress: req.client ?? from.address,
    internalPort: req.internalPort,
    suggestedExternalPort: req.suggested ?? 0,
    lifetimeSeconds: req.lifetime,
  });
  const out = s.handle(data, from, now);
  assert.ok(out !== null, 'answered');
  return decodePcpResponse(out);
}

function pmp(s: PortMapServer, from: UdpEndpoint, req: { internalPort: number; suggested?: number; lifetime: number }, now = 0) {
  const out = s.handle(natPmpMap({ internalPort: req.internalPort, suggestedExternalPort: req.suggested ?? 0, lifetimeSeconds: req.lifetime }), from, now);
  assert.ok(out !== null, 'answered');
  const r = decodeNatPmpResponse(out);
  assert.equal(r.kind, 'map');
  return r as Extract<typeof r, { kind: 'map' }>;
}

test('a port held by another client is skipped upwards; the same client replaces its own; PCP clamps lifetimes to 120..86400 s', () => {
  const { s, calls } = server();
  const a = pmp(s, A, { internalPort: 5000, lifetime: 3600 });
  assert.deepEqual([a.resultCode, a.externalPort, a.lifetimeSeconds], [0, 5000, 3600]);
  const b = pcp(s, B, { internalPort: 5000, lifetime: 30 });
  assert.deepEqual([b.resultCode, b.map?.externalPort, b.lifetimeSeconds, b.map?.externalAddress], [0, 5001, 120, '203.0.113.10']);
  assert.ok(b.map?.nonce.equals(nonce(1)), 'the answer carries the request nonce');
  const again = pmp(s, A, { internalPort: 5000, suggested: 5000, lifetime: 3600 }, 1000);
  assert.equal(again.externalPort, 5000);
  assert.equal(pcp(s, B, { internalPort: 5000, suggested: 5001, lifetime: 999_999 }).lifetimeSeconds, 86_400);
  assert.deepEqual(calls.slice(0, 4), ['add 5000 10.1.0.2:5000', 'add 5001 10.1.0.3:5000', 'remove 5000', 'add 5000 10.1.0.2:5000']);
  assert.deepEqual(s.leases().map((l) => [l.protocol, l.externalPort, l.internal.address]), [['natpmp', 5000, '10.1.0.2'], ['pcp', 5001, '10.1.0.3']]);
});

test('deleting: NAT-PMP says success even for nothing; PCP checks the nonce and says NO_RESOURCES when there is nothing', () => {
  const { s } = server();
  assert.equal(pmp(s, A, { internalPort: 6000, lifetime: 0 }).resultCode, 0);
  pcp(s, A, { internalPort: 5000, lifetime: 600, nonce: nonce(1) });
  const wrong = pcp(s, A, { internalPort: 5000, lifetime: 0, nonce: nonce(2) });
  assert.equal(wrong.resultCode, PcpResult.NotAuthorized);
  assert.equal(s.leases().length, 1);
  assert.equal(pcp(s, A, { internalPort: 5000, lifetime: 0, nonce: nonce(1) }).resultCode, PcpResult.Success);
  assert.equal(s.leases().length, 0);
  const none = pcp(s, A, { internalPort: 5000, lifetime: 0, nonce: nonce(1) });
  assert.deepEqual([none.resultCode, none.lifetimeSeconds], [PcpResult.NoResources, 30]);
  assert.equal(s.stats.deleted, 1);
});

test('epoch counts whole seconds from start and restarts from 0; expired leases are deleted by poll', () => {
  const { s, calls } = server();
  const r = pmp(s, A, { internalPort: 5000, lifetime: 10 }, 4_500);
  assert.equal(r.epoch, 4);
  assert.equal(s.nextDeadline(), 14_500);
  s.poll(14_499);
  assert.equal(s.leases().length, 1);
  s.poll(14_500);
  assert.deepEqual([s.leases().length, s.stats.expired, calls.at(-1)], [0, 1, 'remove 5000']);
  pmp(s, A, { internalPort: 5000, lifetime: 10 }, 20_000);
  s.restart(30_000);
  assert.deepEqual([s.leases().length, calls.at(-1), s.epoch(31_999)], [0, 'remove 5000', 1]);
});

test('PCP: a client address other than the sender is ADDRESS_MISMATCH; TCP is not modelled; bad input is dropped and counted', () => {
  const { s } = server();
  assert.equal(pcp(s, A, { internalPort: 5000, lifetime: 600, client: '192.168.1.2' }).resultCode, PcpResult.AddressMismatch);
  const tcp = pcpMap({ nonce: nonce(1), clientAddress: A.address, internalPort: 5000, suggestedExternalPort: 0, lifetimeSeconds: 600 });
  tcp[36] = 6;
  assert.equal(decodePcpResponse(s.handle(tcp, A, 0) ?? Buffer.alloc(0)).resultCode, PcpResult.UnsupportedProtocol);
  const tcpPmp = natPmpMap({ internalPort: 5000, suggestedExternalPort: 0, lifetimeSeconds: 60 });
  tcpPmp[1] = 2;
  // NAT-PMP opcode 2 (TCP): "unsupported opcode" (5) in an 8-byte answer with opcode 130 (the client never sends it).
  assert.deepEqual([...(s.handle(tcpPmp, A, 0) ?? [])].slice(0, 4), [0, 130, 0, 5]);
  for (const junk of [Buffer.alloc(0), Buffer.from([0]), Buffer.from([0, 1, 0]), Buffer.from([2, 0x81]), Buffer.alloc(20, 2), Buffer.from([0, 128, 0, 0])]) {
    assert.equal(s.handle(junk, A, 0), null, junk.toString('hex'));
  }
  assert.equal(s.stats.dropped, 6);
  assert.equal(s.leases().length, 0);
});

test('switchable alone: NAT-PMP only answers PCP with "unsupported version"; PCP only answers NAT-PMP with a version-2 UNSUPP_VERSION', () => {
  const pmpOnly = server({ pcp: false }).s;
  const pcpReq = pcpMap({ nonce: nonce(1), clientAddress: A.address, internalPort: 5000, suggestedExternalPort: 0, lifetimeSeconds: 600 });
  const r1 = pmpOnly.handle(pcpReq, A, 0);
  assert.deepEqual([...(r1 ?? [])].slice(0, 4), [0, 129, 0, 1]);
  const pcpOnly = server({ natpmp: false }).s;
  const r2 = decodePcpResponse(pcpOnly.handle(encodeExternalAddressRequest(), A, 0) ?? Buffer.alloc(0));
  assert.deepEqual([r2.opcode, r2.resultCode], ['announce', PcpResult.UnsupportedVersion]);
  assert.equal(pcpOnly.leases().length + pmpOnly.leases().length, 0);
});

test('reserved WAN (miniupnpd 2.3.1): NAT-PMP says network failure and 0.0.0.0, PCP NO_RESOURCES naming the address; nothing forwarded', () => {
  assert.ok(wanAddressReserved('100.64.1.2') && wanAddressReserved('192.168.1.1') && wanAddressReserved('10.0.0.1'));
  assert.ok(!wanAddressReserved('203.0.113.10') && !wanAddressReserved('11.0.0.1'), 'the lane\'s "internet" ranges forward');
  const { s, calls } = server({ wan: '100.64.1.2' });
  const addr = decodeNatPmpResponse(s.handle(encodeExternalAddressRequest(), A, 0) ?? Buffer.alloc(0));
  assert.deepEqual([addr.resultCode, addr.kind === 'external-address' ? addr.externalAddress : null], [3, '0.0.0.0']);
  assert.equal(pmp(s, A, { internalPort: 5000, lifetime: 600 }).resultCode, 3);
  const p = pcp(s, A, { internalPort: 5000, lifetime: 600 });
  assert.deepEqual([p.resultCode, p.lifetimeSeconds, p.map?.externalAddress], [PcpResult.NoResources, 30, '100.64.1.2']);
  assert.deepEqual(calls, []);
});

test('NAT forwards: admit any remote whatever the filtering, replies leave from the forwarded port, flows outlive the rule, a flush keeps the rule', () => {
  const t = new NatTable({ mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', portAllocation: 'random', conntrackClash: true }, new SeededRandom(3));
  const inside = { address: '10.1.0.2', port: 40000 };
  const r1 = { address: '192.0.2.5', port: 7 };
  const r2 = { address: '192.0.2.6', port: 8 };
  assert.deepEqual(t.inbound(r1, 40000, 0), { ok: false, reason: 'no-mapping' });
  // The unreplied entry the first packet left still absorbs that remote's packets after the forward is added (conntrack matches first).
  t.addForward(40000, inside);
  assert.equal(t.inbound(r1, 40000, 1).ok, false);
  const in2 = t.inbound(r2, 40000, 2);
  assert.ok(in2.ok && in2.internal.port === 40000);
  const reply = t.outbound(inside, r2, 3);
  assert.ok(reply.ok && reply.externalPort === 40000 && reply.how === 'flow');
  const first = t.outbound(inside, { address: '192.0.2.7', port: 9 }, 4);
  assert.ok(first.ok && first.externalPort !== 40000, 'a new remote goes through masquerade');
  assert.ok(t.removeForward(40000, 5));
  assert.equal(t.inbound(r2, 40000, 6).ok, true, 'the flow carries on after the rule is gone');
  assert.equal(t.inbound({ address: '192.0.2.8', port: 1 }, 40000, 7).ok, false, 'no new remote gets in');
  assert.equal(t.inbound(r2, 40000, 200_000).ok, false, 'and the flow times out');
  t.addForward(40000, inside);
  t.flush();
  assert.deepEqual(t.forwards(), [{ externalPort: 40000, internal: inside }]);
  assert.equal(t.inbound({ address: '192.0.2.9', port: 1 }, 40000, 200_001).ok, true);
});

test('the table is bounded: when full, new forwards are refused (out of resources) but a client may still renew its own', () => {
  const { s } = server({ maxLeases: 2 });
  assert.equal(pmp(s, A, { internalPort: 5000, lifetime: 60 }).resultCode, 0);
  assert.equal(pmp(s, B, { internalPort: 5000, lifetime: 60 }).resultCode, 0);
  assert.equal(pmp(s, A, { internalPort: 6000, lifetime: 60 }).resultCode, 4, 'a third forward');
  assert.equal(pmp(s, A, { internalPort: 5000, suggested: 7000, lifetime: 60 }).resultCode, 4, 'the same client on another port');
  assert.equal(pcp(s, A, { internalPort: 6000, lifetime: 600 }).resultCode, PcpResult.NoResources);
  const renewed = pmp(s, A, { internalPort: 5000, suggested: 5000, lifetime: 60 }, 1000);
  assert.deepEqual([renewed.resultCode, renewed.externalPort], [0, 5000]);
  assert.equal(s.leases().length, 2);
});
