import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BindingServer,
  buildTopology,
  classifyNat,
  NAT_PROFILE_NAMES,
  natProfile,
  type NatSpec,
} from '../../netsim/virtual/index.js';

async function classify(nat: NatSpec, opts: { carrierNat?: NatSpec; seed?: number } = {}) {
  const t = buildTopology({
    seed: opts.seed ?? 7,
    sites: [{ name: 'a', nat, ...(opts.carrierNat ? { carrierNat: opts.carrierNat } : {}) }],
  });
  const server = new BindingServer(t.server);
  return classifyNat({ host: t.site('a').host, server, scheduler: t.scheduler, localPort: 40000 });
}

describe('named NAT profiles classify as they claim', () => {
  for (const name of NAT_PROFILE_NAMES) {
    it(name, async () => {
      const profile = natProfile(name);
      assert.ok(profile.description.length > 40, 'documented');
      const c = await classify(name);
      const e = profile.expected;
      if (e.udpBlocked) {
        assert.equal(c.udpBlocked, true);
        return;
      }
      assert.equal(c.udpBlocked, false);
      assert.equal(c.mapping, e.mapping);
      assert.equal(c.filtering, e.filtering);
      assert.equal(c.preservesPort, e.preservesPort);
      assert.equal(c.hairpin, false, 'hairpinning is off by default');
      assert.equal(c.mapped?.address, '203.0.113.10');
    });
  }

  it('the hairpin variant hairpins; the 5 s variant keeps its class', async () => {
    const c = await classify(natProfile('port-restricted-cone', { hairpin: true }));
    assert.equal(c.hairpin, true);
    assert.equal(c.mapping, 'endpoint-independent');
    const p = natProfile('port-restricted-cone', { shortLifetime: true });
    assert.equal(p.name, 'port-restricted-cone+5s');
    assert.equal(p.options.unrepliedTimeoutMs, 5000);
    assert.equal(p.options.streamTimeoutMs, 5000);
    const s = await classify(p);
    assert.equal(s.filtering, 'address-and-port-dependent');
  });

  it('a double NAT classifies as its most restrictive layer, seen from the carrier address', async () => {
    const c = await classify('full-cone', { carrierNat: 'symmetric-random' });
    assert.equal(c.mapping, 'address-and-port-dependent');
    assert.equal(c.filtering, 'address-and-port-dependent');
    assert.equal(c.mapped?.address, '203.0.113.10');
    const open = await classify('full-cone', { carrierNat: 'full-cone' });
    assert.equal(open.mapping, 'endpoint-independent');
    assert.equal(open.filtering, 'endpoint-independent');
  });

  it('a host without NAT classifies as open', async () => {
    const t = buildTopology({ seed: 3, sites: [{ name: 'pub', nat: null }] });
    const server = new BindingServer(t.server);
    const c = await classifyNat({ host: t.site('pub').host, server, scheduler: t.scheduler });
    assert.equal(c.mapping, 'endpoint-independent');
    assert.equal(c.filtering, 'endpoint-independent');
    assert.equal(c.preservesPort, true);
    assert.equal(c.mapped?.address, t.site('pub').host.address);
  });
});

describe('kernel-lane profile names', () => {
  it('every kernel-lane profile builds a site that classifies as the kernel lane expects', async () => {
    const { labSite, LAB_PROFILE_NAMES } = await import('../../netsim/virtual/index.js');
    for (const name of LAB_PROFILE_NAMES) {
      const t = buildTopology({ seed: 4, sites: [labSite(name, 'a')] });
      const server = new BindingServer(t.server);
      const c = await classifyNat({ host: t.site('a').host, server, scheduler: t.scheduler, attempts: 5 });
      // Only the port-mapping router runs the daemon (NAT-PMP and PCP on its inside address).
      assert.equal((t.site('a').nat?.portmap ?? null) !== null, name === 'upnp-router', name);
      if (name === 'udp-blocked') {
        assert.equal(c.udpBlocked, true);
        continue;
      }
      // upnp-router is random-port symmetric masquerade (its mapped ports aside), as on the kernel lane.
      const cone = !name.startsWith('symmetric') && name !== 'upnp-router';
      assert.equal(c.mapping, cone ? 'endpoint-independent' : 'address-and-port-dependent', name);
      assert.equal(c.hairpin, name === 'hairpin', name);
      if (name === 'hairpin' || name === 'no-hairpin') assert.equal(t.site('a').hosts.length, 2);
    }
  });
});
