/**
 * The in-process port-mapping router (netsim/virtual/portmap-router.ts)
 * against the real PortMapper (src/portmap), on the virtual clock: the same
 * proofs as test/portmap/portmap-kernel.test.ts against miniupnpd — maps with
 * NAT-PMP alone and PCP alone, a datagram from the internet reaches the LAN
 * socket through a random-symmetric NAT, refresh, router restart noticed and
 * mapped again, close deletes the forward, a reserved WAN address advertises
 * nothing — plus what the punch plan relies on: packets the host sends first
 * leave through the ordinary NAT mapping, not the mapped port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { UdpEndpoint } from '../../src/net/udp-socket.js';
import { PortMapper, type PortMapEvent, type PortMapProtocol } from '../../src/portmap/index.js';
import { encodeMapRequest } from '../../src/portmap/natpmp.js';
import { AttemptPortMap } from '../../peer/direct/attempt-portmap.js';
import { SeededRandom } from '../../netsim/random.js';
import { buildTopology, type Topology, type VirtualHost, type VirtualNat, type VirtualUdpSocket } from '../../netsim/virtual/index.js';
import { MemoryLog } from '../../netsim/virtual/log.js';
import { virtualPortMapper, virtualPortMapperOptions, type VirtualPortMapperOptions } from '../../netsim/virtual/lab-portmap.js';
import type { PortMapRouterOptions } from '../../netsim/virtual/portmap-router.js';

const WAN = '203.0.113.10';
const GATEWAY = '10.1.0.1';
const LAN_HOST = '10.1.0.2';

interface Lab {
  topo: Topology;
  nat: VirtualNat;
  host: VirtualHost;
  outside: VirtualHost;
  /** The LAN socket to map, and what it received. */
  socket: VirtualUdpSocket;
  got: Array<{ data: string; from: UdpEndpoint }>;
}

function lab(portmap: PortMapRouterOptions, opts: { seed?: number; carrier?: boolean } = {}): Lab {
  const topo = buildTopology({
    seed: opts.seed ?? 1,
    sites: [
      { name: 'a', nat: 'symmetric-random', portmap, ...(opts.carrier ? { carrierNat: 'symmetric-random' as const } : {}) },
      { name: 'x', nat: null },
    ],
  });
  const site = topo.site('a');
  if (site.nat === null) throw new Error('site a has a NAT');
  const socket = site.host.bind({ port: 40000 });
  const got: Lab['got'] = [];
  socket.onMessage((data, from) => {
    got.push({ data: data.toString(), from });
    // Echo, like the kernel test's mapper child: the reply shows which port the router sends it from.
    socket.send(Buffer.from(`ECHO ${data.toString()}`), from);
  });
  return { topo, nat: site.nat, host: site.host, outside: topo.site('x').host, socket, got };
}

function mapperOptions(l: Lab, extra: VirtualPortMapperOptions['extra'] = {}): VirtualPortMapperOptions {
  return {
    gateway: GATEWAY,
    localAddress: LAN_HOST,
    udp: (address) => l.host.bind(address === undefined ? {} : { address }),
    scheduler: l.topo.scheduler,
    random: new SeededRandom(7),
    extra,
  };
}

async function startMapper(l: Lab, protocols: PortMapProtocol[], extra: VirtualPortMapperOptions['extra'] = {}): Promise<{ pm: PortMapper; events: PortMapEvent[] }> {
  const events: PortMapEvent[] = [];
  const pm = await PortMapper.start(virtualPortMapperOptions(mapperOptions(l, { protocols, ...extra }), l.socket.localEndpoint().port, (e) => events.push(e)));
  return { pm, events };
}

async function until(l: Lab, pred: () => boolean, ms: number): Promise<boolean> {
  return l.topo.scheduler.runUntil(pred, { maxTime: l.topo.scheduler.now() + ms });
}

/** Sends from a fresh socket on the outside host to WAN:port; returns the echoes it got back. */
async function fromOutside(l: Lab, port: number, text = 'probe'): Promise<Array<{ data: string; from: UdpEndpoint }>> {
  const s = l.outside.bind();
  const replies: Array<{ data: string; from: UdpEndpoint }> = [];
  s.onMessage((data, from) => replies.push({ data: data.toString(), from }));
  s.send(Buffer.from(text), { address: WAN, port });
  await l.topo.scheduler.advance(200);
  s.close();
  return replies;
}

/** Runs the clock while `p` settles (close() waits for the router's answer on the virtual clock). */
async function drive<T>(l: Lab, p: Promise<T>, ms = 5000): Promise<T> {
  let done = false;
  const out = p.finally(() => (done = true));
  await until(l, () => done, ms);
  assert.ok(done, 'did not settle in virtual time');
  return out;
}

async function proveProtocol(protocol: 'natpmp' | 'pcp'): Promise<void> {
  const l = lab({ natpmp: protocol === 'natpmp', pcp: protocol === 'pcp' });
  const { pm, events } = await startMapper(l, [protocol]);
  assert.ok(await until(l, () => events.length > 0, 10_000));
  const mapped = events[0];
  assert.equal(mapped?.type, 'mapped', JSON.stringify(events));
  assert.equal(mapped.protocol, protocol);
  assert.equal(mapped.externalAddress, WAN);
  // Like miniupnpd: the external port is the internal one when it is free.
  assert.equal(mapped.externalPort, 40000);
  assert.equal(mapped.lifetimeSeconds, 7200);
  assert.deepEqual(l.nat.table.forwards(), [{ externalPort: 40000, internal: { address: LAN_HOST, port: 40000 } }]);
  assert.deepEqual(
    l.nat.portmap?.leases.map((x) => [x.protocol, x.externalPort]),
    [[protocol, 40000]],
  );

  // The random-symmetric NAT filters everything unsolicited; the forward lets it in, and the echo leaves from the mapped port.
  const replies = await fromOutside(l, 40000);
  assert.deepEqual(l.got.map((g) => g.data), ['probe']);
  assert.equal(l.got[0]?.from.address, l.outside.address);
  assert.deepEqual(replies.map((r) => [r.data, r.from.address, r.from.port]), [['ECHO probe', WAN, 40000]]);

  // Closing deletes the forward: the next datagram is filtered again.
  await drive(l, pm.close());
  assert.deepEqual(pm.lastRelease, { protocol, externalPort: 40000, outcome: 'deleted' });
  assert.deepEqual(l.nat.table.forwards(), []);
  assert.deepEqual(l.nat.portmap?.leases, []);
  const before = l.got.length;
  assert.deepEqual(await fromOutside(l, 40000, 'after'), []);
  assert.equal(l.got.length, before, 'a datagram got in after the release');
}

test('NAT-PMP alone: maps, a datagram from outside reaches the host through a random-symmetric NAT, close deletes the forward', async () => {
  await proveProtocol('natpmp');
});

test('PCP alone: maps, a datagram from outside reaches the host through a random-symmetric NAT, close deletes the forward', async () => {
  await proveProtocol('pcp');
});

test('both offered: the parallel probe finds both and PCP is used', async () => {
  const l = lab({});
  const { pm, events } = await startMapper(l, ['pcp', 'natpmp']);
  assert.ok(await until(l, () => events.length > 0, 10_000));
  assert.equal(events[0]?.type, 'mapped');
  assert.deepEqual(pm.lastProbe, new Set(['natpmp', 'pcp']));
  assert.equal(pm.mapping?.protocol, 'pcp');
  await drive(l, pm.close());
});

test('a PCP-only router answers the NAT-PMP probe with UNSUPP_VERSION; the mapper still maps with PCP', async () => {
  const l = lab({ natpmp: false, pcp: true });
  const { pm, events } = await startMapper(l, ['pcp', 'natpmp']);
  assert.ok(await until(l, () => events.length > 0, 10_000));
  assert.equal(events[0]?.type, 'mapped', JSON.stringify(events));
  assert.equal(pm.mapping?.protocol, 'pcp');
  assert.deepEqual(pm.lastProbe, new Set(['pcp']));
  await drive(l, pm.close());
});

test('a NAT-PMP-only router: the PCP probe finds nothing, NAT-PMP maps', async () => {
  const l = lab({ natpmp: true, pcp: false });
  const { pm, events } = await startMapper(l, ['pcp', 'natpmp']);
  assert.ok(await until(l, () => events.length > 0, 10_000));
  assert.equal(events[0]?.type, 'mapped', JSON.stringify(events));
  assert.equal(pm.mapping?.protocol, 'natpmp');
  assert.deepEqual(pm.lastProbe, new Set(['natpmp']));
  await drive(l, pm.close());
});

test('like miniupnpd, the forward is inbound only: what the host sends first leaves through the ordinary NAT mapping', async () => {
  const l = lab({});
  const { pm, events } = await startMapper(l, ['natpmp']);
  assert.ok(await until(l, () => events.some((e) => e.type === 'mapped'), 10_000));
  // The host sends first to a new outside endpoint: masquerade (random ports) picks another port.
  const s = l.outside.bind({ port: 6000 });
  const seen: UdpEndpoint[] = [];
  s.onMessage((_d, from) => seen.push(from));
  l.socket.send(Buffer.from('first'), { address: l.outside.address, port: 6000 });
  await l.topo.scheduler.advance(200);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]?.address, WAN);
  assert.notEqual(seen[0]?.port, 40000, 'a packet sent first left from the mapped port');
  // The outside endpoint answering to the mapped port still gets in, and from then on the host's replies to it use the mapped port.
  s.send(Buffer.from('hello'), { address: WAN, port: 40000 });
  await l.topo.scheduler.advance(200);
  assert.deepEqual(l.got.map((g) => g.data), ['hello']);
  assert.deepEqual(seen.map((e) => e.port).slice(1), [40000]);
  s.close();
  await drive(l, pm.close());
});

test('refresh: the mapper renews before the lifetime runs out and the forward stays; left alone, a forward expires', async () => {
  const l = lab({ natpmp: true, pcp: false });
  // NAT-PMP grants what is asked: 10 s, refreshed at 5 s.
  const { pm, events } = await startMapper(l, ['natpmp'], { lifetimeSeconds: 10 });
  assert.ok(await until(l, () => events.length > 0, 10_000));
  const answeredBefore = l.nat.portmap?.stats.natpmp ?? 0;
  await l.topo.scheduler.advance(60_000);
  assert.deepEqual(events.map((e) => e.type), ['mapped'], 'a refresh must not show as lost/mapped');
  assert.ok((l.nat.portmap?.stats.natpmp ?? 0) >= answeredBefore + 2 * 10, 'refreshed every 5 s (map + address request each)');
  assert.equal(l.nat.portmap?.leases.length, 1);
  assert.ok((l.nat.portmap?.leases[0]?.expiresAt ?? 0) > l.topo.scheduler.now());
  assert.deepEqual((await fromOutside(l, 40000)).map((r) => r.data), ['ECHO probe']);
  await drive(l, pm.close());

  // A client that maps once and goes away: the router deletes the forward when its lifetime ends.
  const raw = l.host.bind({ port: 41000 });
  raw.send(encodeMapRequest({ internalPort: 41000, suggestedExternalPort: 0, lifetimeSeconds: 5 }), { address: GATEWAY, port: 5351 });
  await l.topo.scheduler.advance(100);
  assert.deepEqual(l.nat.table.forwards().map((f) => f.externalPort), [41000]);
  await l.topo.scheduler.advance(5_000);
  assert.deepEqual(l.nat.table.forwards(), []);
  assert.equal(l.nat.portmap?.stats.expired, 1);
  raw.close();
});

for (const protocol of ['natpmp', 'pcp'] as const) {
  test(`${protocol}: a router restart (table lost, epoch back to 0) is noticed at the next refresh and the port mapped again`, async () => {
    const l = lab({ natpmp: protocol === 'natpmp', pcp: protocol === 'pcp' });
    const { pm, events } = await startMapper(l, [protocol], { maxRefreshIntervalMs: 5000 });
    assert.ok(await until(l, () => events.length > 0, 10_000));
    await l.topo.scheduler.advance(21_000);
    assert.deepEqual(events.map((e) => e.type), ['mapped']);
    const restartAt = l.topo.scheduler.now();
    l.nat.portmap?.restart();
    assert.equal(l.nat.portmap?.server.epoch(restartAt), 0);
    assert.deepEqual(l.nat.table.forwards(), [], 'the restart left no forward behind');
    assert.ok(await until(l, () => events.length >= 3, 10_000));
    assert.deepEqual(events.map((e) => e.type), ['mapped', 'lost', 'mapped']);
    const lost = events[1];
    assert.ok(lost?.type === 'lost' && /restarted/.test(lost.reason), JSON.stringify(lost));
    const again = events[2];
    assert.ok(again?.type === 'mapped');
    assert.deepEqual(l.nat.table.forwards().map((f) => f.externalPort), [again.externalPort]);
    assert.deepEqual((await fromOutside(l, again.externalPort)).map((r) => r.data), ['ECHO probe']);
    await drive(l, pm.close());
  });
}

test('a router on a reserved WAN address (100.64.1.2, behind a carrier NAT): nothing is advertised, as with miniupnpd 2.3.1', async () => {
  for (const protocol of ['pcp', 'natpmp'] as const) {
    const l = lab({}, { carrier: true });
    assert.equal(l.nat.publicAddress, '100.64.1.2');
    assert.equal(l.nat.portmap?.reserved, true);
    const { pm, events } = await startMapper(l, [protocol]);
    assert.ok(await until(l, () => events.length > 0, 10_000));
    const verdict = events[0];
    assert.equal(verdict?.type, 'failed', `${protocol}: ${JSON.stringify(events)}`);
    if (protocol === 'pcp') {
      // PCP refuses with NO_RESOURCES but names the WAN address: the mapper says why it cannot work.
      assert.equal(verdict.kind, 'behind-nat');
      assert.match(verdict.reason, /100\.64\.1\.2 .*another NAT sits above the router: the mapping is not advertised/);
    } else {
      assert.equal(verdict.kind, 'refused');
      assert.match(verdict.reason, /network failure/);
    }
    assert.equal(pm.mapping, null);
    assert.deepEqual(l.nat.table.forwards(), []);
    await drive(l, pm.close());
    assert.equal(events.filter((e) => e.type === 'mapped').length, 0);
  }
});

test("reserved WAN through a session's eyes: the attempt logs why and offers no mapped candidate", async () => {
  for (const [protocol, outcome, reason] of [
    ['pcp', 'not-advertised', /another NAT sits above the router/],
    ['natpmp', 'none', /network failure.*\(another NAT above it\?\)/],
  ] as const) {
    const l = lab({}, { carrier: true });
    const memory = new MemoryLog(() => l.topo.scheduler.now());
    const factory = virtualPortMapper(mapperOptions(l, { protocols: [protocol] }));
    const attempt = new AttemptPortMap(factory, 40000, 1, memory.logger({ component: 'test' }));
    await until(l, () => memory.events.some((e) => e.event === 'portmap'), 10_000);
    const line = memory.find('portmap');
    assert.equal(line?.fields.outcome, outcome, JSON.stringify(line));
    assert.match(String(line?.fields.reason), reason);
    assert.equal(attempt.offer(), null);
    assert.equal(attempt.mayMapLater, false);
    attempt.close();
    await l.topo.scheduler.advance(2000);
  }
});
