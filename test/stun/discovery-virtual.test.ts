/**
 * NAT discovery against the rendezvous's STUN responder on the in-process
 * virtual network: one site per NAT profile, the responder on the server's
 * two addresses (198.51.100.2/.3, ports 3478/3479), and the report must name
 * each profile's mapping, filtering and port allocation.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from '../../netsim/random.js';
import { buildTopology, labSite, type LabProfileName, type Topology } from '../../netsim/virtual/topology.js';
import { natProfile } from '../../netsim/virtual/profiles.js';
import type { SiteSpec } from '../../netsim/virtual/topology.js';
import type { UdpSocket } from '../../src/net/udp-socket.js';
import { discoverNat, type DiscoveryOptions } from '../../src/nat/discovery.js';
import type { NatReport } from '../../src/nat/report.js';
import { UdpService } from '../../rendezvous/udp-service.js';
import type { StunLayout, StunSlot } from '../../rendezvous/stun-responder.js';

function startResponder(topo: Topology, withAltAddress = true): UdpService {
  const [a, b] = topo.serverAddresses;
  const layout: StunLayout = { primary: { address: a, port: 3478 }, altPort: 3479, altAddress: withAltAddress ? b : null };
  const sockets: Partial<Record<StunSlot, UdpSocket>> = {
    primary: topo.server.bind({ address: a, port: 3478 }),
    altPort: topo.server.bind({ address: a, port: 3479 }),
  };
  if (withAltAddress) {
    sockets.altAddress = topo.server.bind({ address: b, port: 3478 });
    sockets.altBoth = topo.server.bind({ address: b, port: 3479 });
  }
  return new UdpService(layout, sockets, { scheduler: topo.scheduler });
}

async function discover(topo: Topology, site: string, extra: Partial<DiscoveryOptions> = {}, hostIndex = 0): Promise<NatReport> {
  const rng = new SeededRandom(7);
  const host = topo.site(site).hosts[hostIndex]!;
  let report: NatReport | null = null;
  let failure: unknown = null;
  discoverNat({
    server: { address: topo.serverAddresses[0], port: 3478 },
    openSocket: () => host.bind(),
    scheduler: topo.scheduler,
    random: (n) => rng.bytes(n),
    timeoutMs: 1000,
    ...extra,
  }).then(
    (r) => (report = r),
    (e) => (failure = e),
  );
  const finished = await topo.scheduler.runUntil(() => report !== null || failure !== null, { maxTime: topo.scheduler.now() + 60_000 });
  if (failure) throw failure;
  assert.ok(finished && report, 'discovery finished within 60 s of virtual time');
  assert.equal(host.socketCount, 0, 'discovery closed every socket it opened');
  return report;
}

interface Expect {
  mapping: NatReport['mapping']['behaviour'];
  filtering: NatReport['filtering']['behaviour'];
  ports: NatReport['portAllocation']['kind'];
  step?: number;
  hairpin?: boolean;
}

const EXPECTED: Partial<Record<LabProfileName, Expect>> = {
  'full-cone': { mapping: 'endpoint-independent', filtering: 'endpoint-independent', ports: 'preserving', hairpin: false },
  'restricted-cone': { mapping: 'endpoint-independent', filtering: 'address-dependent', ports: 'preserving', hairpin: false },
  'port-restricted-cone': { mapping: 'endpoint-independent', filtering: 'address-and-port-dependent', ports: 'preserving', hairpin: false },
  'symmetric-random': { mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', ports: 'random', hairpin: false },
  'upnp-router': { mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', ports: 'random', hairpin: false },
  'symmetric-sequential': { mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', ports: 'sequential', step: 1, hairpin: false },
  hairpin: { mapping: 'endpoint-independent', filtering: 'address-and-port-dependent', ports: 'preserving', hairpin: true },
  'double-nat': { mapping: 'endpoint-independent', filtering: 'address-and-port-dependent', ports: 'preserving' },
};

describe('NAT discovery on the virtual network, against the rendezvous responder', () => {
  for (const [profile, want] of Object.entries(EXPECTED) as [LabProfileName, Expect][]) {
    it(`${profile}: mapping ${want.mapping}, filtering ${want.filtering}, ports ${want.ports}${want.step ? ` step ${want.step}` : ''}`, async () => {
      const topo = buildTopology({ seed: 11, sites: [labSite(profile, 's')], recordTrace: false });
      const svc = startResponder(topo);
      const r = await discover(topo, 's');
      assert.equal(r.udp, 'ok');
      assert.equal(r.nat, 'present');
      assert.equal(r.mapped!.address, '203.0.113.10');
      assert.deepEqual(r.serverAlternate, { address: '198.51.100.3', port: 3479 });
      assert.equal(r.mapping.behaviour, want.mapping, r.mapping.explanation);
      assert.equal(r.filtering.behaviour, want.filtering, r.filtering.explanation);
      assert.equal(r.portAllocation.kind, want.ports, r.portAllocation.explanation);
      if (want.step !== undefined) assert.equal(r.portAllocation.step, want.step);
      if (want.hairpin !== undefined) assert.equal(r.hairpin.works, want.hairpin, r.hairpin.explanation);
      assert.deepEqual(r.notRun, []);
      assert.ok(r.summary.length > 40);
      assert.equal(svc.stats.dropped['rate-limited'], 0);
      svc.close();
    });
  }

  it('udp-blocked: no answer, reported as UDP blocked, in a bounded time', async () => {
    const topo = buildTopology({ seed: 3, sites: [labSite('udp-blocked', 's')], recordTrace: false });
    startResponder(topo);
    const t0 = topo.scheduler.now();
    const r = await discover(topo, 's');
    assert.equal(r.udp, 'blocked');
    assert.equal(r.mapped, null);
    assert.match(r.summary, /No answer from 198\.51\.100\.2:3478 over UDP/);
    assert.ok(topo.scheduler.now() - t0 <= 1100, 'one request timeout');
  });

  it('no NAT: a public host sees its own address; endpoint-independent, no filtering', async () => {
    const topo = buildTopology({ seed: 5, sites: [{ name: 'pub', nat: null }], recordTrace: false });
    startResponder(topo);
    const r = await discover(topo, 'pub');
    assert.equal(r.nat, 'none');
    assert.deepEqual(r.mapped, r.local);
    assert.equal(r.mapping.behaviour, 'endpoint-independent');
    assert.equal(r.filtering.behaviour, 'endpoint-independent');
    assert.equal(r.hairpin.works, null);
    assert.match(r.summary, /^No NAT/);
  });

  it('a server with one address: says which tests could not run, narrows what it can (alternate port)', async () => {
    const topo = buildTopology({ seed: 9, sites: [labSite('port-restricted-cone', 'a'), labSite('full-cone', 'b'), labSite('symmetric-random', 'c')], recordTrace: false });
    startResponder(topo, false);
    const prc = await discover(topo, 'a', { altPort: true });
    assert.equal(prc.mapping.behaviour, null);
    assert.deepEqual(prc.mapping.possible, ['endpoint-independent', 'address-dependent']);
    assert.equal(prc.filtering.behaviour, 'address-and-port-dependent');
    assert.ok(prc.notRun.some((n) => /one IP address/.test(n)));
    const full = await discover(topo, 'b', { altPort: true });
    assert.deepEqual(full.filtering.possible, ['endpoint-independent', 'address-dependent']);
    const sym = await discover(topo, 'c', { altPort: true });
    assert.equal(sym.mapping.behaviour, 'address-and-port-dependent');
    // Without --alt-port nothing can be compared.
    const bare = await discover(topo, 'a');
    assert.equal(bare.mapping.tested, false);
    assert.equal(bare.filtering.tested, false);
    assert.ok(bare.notRun.some((n) => /--alt-port/.test(n)));
    assert.equal(bare.portAllocation.kind, 'preserving', 'port allocation needs only the primary address');
  });

  it('a lossy path: retransmissions still get every answer (5% loss each way)', async () => {
    const spec: SiteSpec = { name: 's', nat: natProfile('port-restricted-cone'), wan: { delayMs: 20, loss: 0.05 } };
    const topo = buildTopology({ seed: 21, sites: [spec], recordTrace: false });
    startResponder(topo);
    const r = await discover(topo, 's', { timeoutMs: 3000 });
    assert.equal(r.mapping.behaviour, 'endpoint-independent');
    assert.equal(r.filtering.behaviour, 'address-and-port-dependent');
  });
});
