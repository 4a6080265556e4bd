/**
 * `burrow nat`'s IPv6 and port-mapping sections: the verdicts and words from
 * observations (pure), how they print and serialise, and where --server /
 * --server6 send the IPv6 test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipv6Report, type Ipv6Observations } from '../../src/nat/ipv6-report.js';
import { selectIpv6Addresses } from '../../src/nat/ipv6-addresses.js';
import { sourceOrNull } from '../../src/nat/local-address.js';
import { noRouteReport } from '../../src/nat/analyse.js';
import { portMappingReport, skippedPortMapping, type PortMapObservations } from '../../src/nat/portmap-report.js';
import { formatIpv6, formatPortMapping, formatReport, resolveServers, type FamilyLookup } from '../../cli/nat.js';

const rows = (...addresses: string[]) => addresses.map((address) => ({ interface: 'eth0', address, family: 'IPv6', internal: false }));

function v6(o: Partial<Ipv6Observations>): Ipv6Observations {
  return {
    selection: selectIpv6Addresses(rows('2001:db8:1::10', 'fe80::1')),
    server: { address: '2001:db8:ffff::1', port: 7000 },
    local: { address: '2001:db8:1::10', port: 40000 },
    mapped: { address: '2001:db8:1::10', port: 40000 },
    durationMs: 12,
    ...o,
  };
}

test('IPv6: the server saw our own address: works, not translated', () => {
  const r = ipv6Report(v6({}));
  assert.equal(r.status, 'ok');
  assert.equal(r.translated, false);
  assert.deepEqual(r.global, ['2001:db8:1::10']);
  assert.deepEqual(r.usable, ['2001:db8:1::10']);
  assert.match(r.summary, /one global IPv6 address\. UDP over IPv6 works: the server saw this host's own address 2001:db8:1::10: no address translation/);
  const text = formatIpv6(r);
  assert.match(text, /UDP over IPv6\s+works/);
  assert.match(text, /public address\s+\[2001:db8:1::10\]:40000 {3}\(local \[2001:db8:1::10\]:40000\)/);
  assert.match(text, /translated\s+no/);
  assert.doesNotMatch(text, /fe80/);
});

test('IPv6: another prefix with the same port is NPTv6; another port too is NAT66', () => {
  const npt = ipv6Report(v6({ mapped: { address: '2001:db8:99::10', port: 40000 } }));
  assert.equal(npt.translated, true);
  assert.match(npt.summary, /the prefix is translated \(NPTv6/);
  const nat66 = ipv6Report(v6({ selection: selectIpv6Addresses(rows('fd00::2')), local: { address: 'fd00::2', port: 40000 }, mapped: { address: '2001:db8:99::10', port: 1234 } }));
  assert.equal(nat66.translated, true);
  assert.match(nat66.summary, /only a unique-local one \(fc00::\/7\), which reaches only the local site/);
  assert.match(nat66.summary, /NAT66 rewrites address and port/);
  assert.match(formatIpv6(nat66), /unique-local\s+fd00::2 {3}\(usable: no global address\)/);
  assert.match(formatIpv6(nat66), /translated\s+yes \(NPTv6 or NAT66\)/);
});

test('IPv6 unavailable, each in plain words: no server address, no route (with and without addresses), no answer', () => {
  const noServer = ipv6Report(v6({ server: null, noServerReason: 'rv.example.com has no IPv6 (AAAA) address', local: null, mapped: null }));
  assert.equal(noServer.status, 'no-server-address');
  assert.match(noServer.summary, /IPv6 not tested: rv\.example\.com has no IPv6 \(AAAA\) address\./);
  assert.match(formatIpv6(noServer), /UDP over IPv6\s+not tested/);

  const noAddr = ipv6Report(v6({ selection: selectIpv6Addresses(rows('fe80::1')), local: null, mapped: null }));
  assert.equal(noAddr.status, 'no-address');
  assert.match(noAddr.summary, /^This host has no global IPv6 address\. No IPv6 route to \[2001:db8:ffff::1\]:7000/);
  assert.match(formatIpv6(noAddr), /global address\s+none/);

  assert.equal(ipv6Report(v6({ local: null, mapped: null })).status, 'no-route');

  const silent = ipv6Report(v6({ mapped: null }));
  assert.equal(silent.status, 'no-answer');
  assert.equal(silent.translated, null);
  assert.match(silent.summary, /No answer from \[2001:db8:ffff::1\]:7000 over UDP\/IPv6/);
});

function pm(o: Partial<PortMapObservations>): PortMapObservations {
  return {
    gateway: '192.168.1.1',
    answered: new Set(['natpmp', 'pcp']),
    verdict: { type: 'mapped', protocol: 'pcp', externalAddress: '11.0.0.1', externalPort: 40001, lifetimeSeconds: 120 },
    release: 'deleted',
    askedLifetimeSeconds: 120,
    durationMs: 300,
    ...o,
  };
}

test('port mapping: mapped, same public address as STUN saw: protocols in preference order, address, lifetime, no NAT above', () => {
  const r = portMappingReport(pm({}), '11.0.0.1');
  assert.equal(r.status, 'mapped');
  assert.deepEqual(r.answered, ['pcp', 'natpmp']);
  assert.equal(r.protocol, 'pcp');
  assert.equal(r.externalAddress, '11.0.0.1');
  assert.equal(r.externalPort, 40001);
  assert.equal(r.lifetimeSeconds, 120);
  assert.equal(r.behindAnotherNat, false);
  assert.equal(r.release, 'deleted');
  assert.match(r.summary, /^PCP, NAT-PMP answered at 192\.168\.1\.1; PCP mapped a test port: external 11\.0\.0\.1:40001 for 120 s\. The STUN server saw the same public address/);
  assert.match(r.summary, /This probe maps one test UDP port \(only a mapping shows the lifetime, and PCP has no address-only question\); it was deleted again before exit\.$/);
  const kept = portMappingReport(pm({ release: 'no answer to the MAP request' }), '11.0.0.1');
  assert.match(kept.summary, /the router did not confirm its deletion \(no answer to the MAP request\), so it expires within 120 s\.$/);
  const text = formatPortMapping(r);
  for (const re of [/router\s+192\.168\.1\.1/, /answered\s+PCP, NAT-PMP/, /port mapping\s+yes, by PCP/, /external address\s+11\.0\.0\.1:40001/, /lifetime\s+120 s/, /NAT above router\s+no/]) {
    assert.match(text, re);
  }
  // JSON: the fields a script reads.
  const back = JSON.parse(JSON.stringify(r)) as Record<string, unknown>;
  assert.deepEqual(back.answered, ['pcp', 'natpmp']);
  assert.equal(back.lifetimeSeconds, 120);
});

test('port mapping: a public router address that differs from what STUN saw means another NAT above; a granted lifetime below the ask is shown', () => {
  const r = portMappingReport(
    pm({ verdict: { type: 'mapped', protocol: 'upnp', externalAddress: '11.0.0.1', externalPort: 5000, lifetimeSeconds: 60 }, answered: new Set(['upnp']) }),
    '198.51.100.7',
  );
  assert.equal(r.behindAnotherNat, true);
  assert.match(r.summary, /for 60 s \(asked for 120 s\)\. But the STUN server saw this host as 198\.51\.100\.7: another NAT sits above the router/);
  assert.equal(portMappingReport(pm({}), null).behindAnotherNat, null, 'no STUN answer: cannot tell');
});

test('port mapping: behind-nat, refused, no router, no gateway, timeout, skipped', () => {
  const behind = portMappingReport(
    pm({
      answered: new Set(['natpmp']),
      verdict: {
        type: 'failed',
        kind: 'behind-nat',
        reason: 'external address 100.64.0.1 is shared carrier-grade NAT space (100.64/10): another NAT sits above the router: the mapping is not advertised',
        externalAddress: '100.64.0.1',
      },
    }),
    '203.0.113.9',
  );
  assert.equal(behind.status, 'behind-nat');
  assert.equal(behind.behindAnotherNat, true);
  assert.equal(behind.externalAddress, '100.64.0.1');
  assert.match(behind.summary, /^NAT-PMP answered at 192\.168\.1\.1, but external address 100\.64\.0\.1 is shared/);
  assert.match(formatPortMapping(behind), /port mapping\s+no \(another NAT above the router\)/);

  const refused = portMappingReport(pm({ verdict: { type: 'failed', kind: 'refused', reason: 'every port-mapping service failed (PCP: refused: not authorized)' }, release: null }), null);
  assert.equal(refused.status, 'refused');
  assert.match(refused.summary, /but no port was mapped: every port-mapping service failed \(PCP: refused: not authorized\)\.$/);

  const none = portMappingReport(pm({ answered: new Set(), verdict: { type: 'failed', kind: 'no-service', reason: 'x' }, release: null }), null);
  assert.equal(none.status, 'no-router');
  assert.match(none.summary, /^No router answered NAT-PMP, PCP or UPnP IGD at 192\.168\.1\.1/);
  assert.match(formatPortMapping(none), /answered\s+none\n\s+port mapping\s+no router answered/);

  const noGw = portMappingReport(pm({ gateway: null, noGatewayReason: 'no default IPv4 gateway to ask' }), null);
  assert.equal(noGw.status, 'no-gateway');
  assert.equal(noGw.summary, 'Port mapping not tested: no default IPv4 gateway to ask.');

  const late = portMappingReport(pm({ verdict: null, release: 'no answer to the MAP request' }), null);
  assert.equal(late.status, 'timeout');
  assert.match(late.summary, /no port-mapping verdict in time\. The router did not confirm deleting the test mapping \(no answer to the MAP request\); it expires within 120 s\./);

  const skipped = skippedPortMapping();
  assert.equal(skipped.status, 'skipped');
  assert.match(formatPortMapping(skipped), /not tested \(--no-portmap or BURROW_PORTMAP=off\)/);
});

test('--server / --server6: where the IPv4 tests and the IPv6 test go', async () => {
  const dns: Record<string, { 4: string[]; 6: string[] }> = {
    'dual.example': { 4: ['203.0.113.1'], 6: ['2001:db8::1'] },
    'v4only.example': { 4: ['203.0.113.2'], 6: [] },
    'v6only.example': { 4: [], 6: ['2001:db8::6'] },
  };
  const asked: string[] = [];
  const lookup: FamilyLookup = async (host, family) => {
    asked.push(`${host}/${family}`);
    return dns[host]?.[family] ?? [];
  };
  assert.deepEqual(await resolveServers('dual.example:7000', undefined, lookup), {
    v4: { address: '203.0.113.1', port: 7000 },
    v6: { address: '2001:db8::1', port: 7000 },
  });
  assert.deepEqual(await resolveServers('v4only.example:7000', undefined, lookup), {
    v4: { address: '203.0.113.2', port: 7000 },
    v6: null,
    v6Missing: 'v4only.example has no IPv6 (AAAA) address',
  });
  // An IPv6-only name: the IPv4 tests go over IPv6, as before this section existed.
  assert.deepEqual((await resolveServers('v6only.example:7000', undefined, lookup)).v4, { address: '2001:db8::6', port: 7000 });
  const lit4 = await resolveServers('127.0.0.1:7000', undefined, lookup);
  assert.equal(lit4.v6, null);
  assert.match(lit4.v6Missing ?? '', /--server is an IPv4 address/);
  assert.deepEqual(await resolveServers('[::1]:7000', undefined, lookup), { v4: { address: '::1', port: 7000 }, v6: { address: '::1', port: 7000 } });
  assert.deepEqual((await resolveServers('127.0.0.1:7000', '[::1]:7001', lookup)).v6, { address: '::1', port: 7001 });
  assert.deepEqual((await resolveServers('127.0.0.1:7000', 'dual.example:7002', lookup)).v6, { address: '2001:db8::1', port: 7002 });
  await assert.rejects(resolveServers('127.0.0.1:7000', '127.0.0.1:7000', lookup), /--server6 must be an IPv6 address or a name/);
  await assert.rejects(resolveServers('127.0.0.1:7000', 'v4only.example:7000', lookup), /"v4only.example" has no IPv6/);
  await assert.rejects(resolveServers('nowhere.example:7000', undefined, lookup), /cannot resolve "nowhere.example"/);
  await assert.rejects(resolveServers('127.0.0.1:0', undefined, lookup), /needs a port/);
  assert.ok(!asked.includes('127.0.0.1/4'), 'literals are not looked up');
});

test('no source address towards the server (IPv6 disabled, or an IPv6-only host asked about IPv4) is no route', () => {
  assert.equal(sourceOrNull('0.0.0.0'), null);
  assert.equal(sourceOrNull('::'), null);
  assert.equal(sourceOrNull('10.1.0.2'), '10.1.0.2');
  assert.equal(sourceOrNull('2001:db8:1::2'), '2001:db8:1::2');
});

test('no IPv4 route: the IPv4 section says so (not "UDP blocked") and points at the IPv6 section', () => {
  const r = noRouteReport({ address: '198.51.100.2', port: 7000 }, 0);
  assert.equal(r.udp, 'blocked');
  assert.equal(r.local, null);
  assert.equal(r.mapped, null);
  assert.equal(r.mapping.tested, false);
  assert.deepEqual(r.notRun, ['every test: no IPv4 route to the server']);
  assert.match(r.summary, /^No route to 198\.51\.100\.2:7000: this host has no IPv4 address or route, so nothing was sent\..* See the IPv6 section\.$/);
  assert.doesNotMatch(r.summary, /guest Wi-Fi/);
  assert.match(formatReport(r), /No route to 198\.51\.100\.2:7000/);
  const r6 = noRouteReport({ address: '2001:db8::1', port: 7000 }, 0);
  assert.match(r6.summary, /^No route to \[2001:db8::1\]:7000: this host has no IPv6 address or route/);
  assert.doesNotMatch(r6.summary, /See the IPv6 section/);
});
