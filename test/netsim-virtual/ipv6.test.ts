/**
 * IPv6 on the in-process lane: dual-stack and v6-only sites with a routed
 * global /64 behind the site router's RFC 6092 stateful firewall (no NAT66),
 * the dual-stack server, and virtual UDP sockets whose family decides what
 * they can reach, as node:dgram's do.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTopology, labSite, natProfile, SERVER_ADDRESSES, SERVER_ADDRESSES6, type SiteSpec, type VirtualUdpSocket } from '../../netsim/virtual/index.js';
import type { UdpEndpoint } from '../../src/net/udp-socket.js';
import { isBurrowError } from '../../src/errors.js';

const SRV4: UdpEndpoint = { address: SERVER_ADDRESSES[0], port: 7000 };
const SRV6: UdpEndpoint = { address: SERVER_ADDRESSES6[0], port: 7000 };

/** Every datagram a socket receives, with its source. */
function inbox(s: VirtualUdpSocket): Array<{ text: string; from: UdpEndpoint }> {
  const got: Array<{ text: string; from: UdpEndpoint }> = [];
  s.onMessage((d, from) => got.push({ text: d.toString(), from: { address: from.address, port: from.port } }));
  return got;
}

/** The errors a socket reports. */
function errors(s: VirtualUdpSocket): Error[] {
  const errs: Error[] = [];
  s.onError((e) => errs.push(e));
  return errs;
}

/** node's errno of a send failure (the BurrowError's cause). */
function errno(e: Error | undefined): string | undefined {
  return (e?.cause as NodeJS.ErrnoException | undefined)?.code;
}

const dual = (name: string, nat: SiteSpec['nat'] = 'port-restricted-cone'): SiteSpec => ({ name, nat, ipv6: 'dual' });

describe('IPv6 on the virtual lane', () => {
  it('a dual-stack site: hosts have both families, the server sees the host\'s own global address and port (no NAT66), IPv4 is still translated', async () => {
    const t = buildTopology({ seed: 1, sites: [dual('a')] });
    const site = t.site('a');
    const h = site.host;
    assert.deepEqual(h.addresses, ['10.1.0.2', '2001:db8:1::2']);
    assert.deepEqual(h.addresses4, ['10.1.0.2']);
    assert.deepEqual(h.addresses6, ['2001:db8:1::2']);
    assert.equal(h.address, '10.1.0.2', 'the first address stays the IPv4 one');
    assert.equal(site.prefix6, '2001:db8:1::/64');
    assert.deepEqual(t.server.addresses, [...SERVER_ADDRESSES, ...SERVER_ADDRESSES6]);
    assert.deepEqual(t.serverAddresses6, SERVER_ADDRESSES6);

    // One port number, both families: separate sockets, as udp4 + IPv6-only udp6.
    const srv6 = t.server.bind({ address: '::', port: 7000 });
    const srv4 = t.server.bind({ address: '0.0.0.0', port: 7000 });
    const in6 = inbox(srv6);
    const in4 = inbox(srv4);
    const s6 = h.bind({ address: '::', port: 40000 });
    const s4 = h.bind({ address: '0.0.0.0', port: 40000 });
    assert.equal(s6.family, 6);
    assert.equal(s4.family, 4);
    assert.deepEqual(s6.localEndpoint(), { address: '::', port: 40000 });
    // Any spelling of the server's address reaches it.
    s6.send(Buffer.from('six'), { address: '2001:DB8:FFFF:0:0:0:0:1', port: 7000 });
    s4.send(Buffer.from('four'), SRV4);
    await t.scheduler.advance(100);
    assert.deepEqual(in6, [{ text: 'six', from: { address: '2001:db8:1::2', port: 40000 } }]);
    assert.equal(in4.length, 1);
    assert.equal(in4[0]?.from.address, '203.0.113.10', 'IPv4 leaves through the NAT');
    const nat = site.nat!;
    assert.equal(nat.table.mappings(t.scheduler.now()).length, 1, 'only the IPv4 datagram made a NAT mapping');
    assert.deepEqual(
      nat.firewall6!.pinholes(t.scheduler.now()).map((p) => [p.inside, p.remote]),
      [['[2001:db8:1::2]:40000', '[2001:db8:ffff::1]:7000']],
    );
    // The server answers on the same path; the reply comes from its own address.
    const back6 = inbox(s6);
    srv6.send(Buffer.from('re'), { address: '2001:db8:1::2', port: 40000 });
    await t.scheduler.advance(100);
    assert.deepEqual(back6, [{ text: 're', from: SRV6 }]);
  });

  it('the firewall drops unsolicited inbound UDP and admits only the remote address and port the inside host sent to', async () => {
    const t = buildTopology({ seed: 2, sites: [dual('a'), { name: 'x', nat: null, ipv6: 'dual' }] });
    const h = t.site('a').host;
    const fw = t.site('a').nat!;
    const srv = t.server.bind({ address: SERVER_ADDRESSES6[0], port: 7000 });
    const srvOther = t.server.bind({ address: SERVER_ADDRESSES6[0], port: 7001 });
    const srvAlt = t.server.bind({ address: SERVER_ADDRESSES6[1], port: 7000 });
    const stranger = t.site('x').host.bind({ address: '::', port: 7000 });
    const s = h.bind({ address: '::', port: 40000 });
    const got = inbox(s);
    const me: UdpEndpoint = { address: '2001:db8:1::2', port: 40000 };

    srv.send(Buffer.from('unsolicited'), me);
    await t.scheduler.advance(100);
    assert.equal(got.length, 0);
    assert.equal(fw.drops['fw-filtered'], 1);
    assert.equal(fw.firewall6!.pinholes(t.scheduler.now()).length, 0, 'a dropped packet leaves no state');

    s.send(Buffer.from('hello'), SRV6);
    await t.scheduler.advance(100);
    srv.send(Buffer.from('reply'), me);
    srvOther.send(Buffer.from('other port'), me);
    srvAlt.send(Buffer.from('other address'), me);
    stranger.send(Buffer.from('stranger'), me);
    await t.scheduler.advance(100);
    assert.deepEqual(got.map((g) => g.text), ['reply'], 'endpoint-dependent filtering: only the exact remote endpoint');
    assert.equal(fw.drops['fw-filtered'], 4);
    assert.equal(t.network.drops['fw-filtered'], 4);
    assert.deepEqual(
      t.network.trace.events.filter((e) => e.kind === 'fw-state').map((e) => e.note),
      ['pinhole-opened: [2001:db8:1::2]:40000 <-> [2001:db8:ffff::1]:7000'],
    );
    // Outbound is always allowed, to anyone.
    const strangerGot = inbox(stranger);
    s.send(Buffer.from('to stranger'), { address: t.site('x').host.addresses6[0]!, port: 7000 });
    await t.scheduler.advance(100);
    assert.deepEqual(strangerGot.map((g) => g.from), [me]);
  });

  it('simultaneous open: two firewalled hosts meet once both have sent; the early probe leaves nothing behind (IPv4 masquerade with the same timing clashes)', async () => {
    const run = async (family: 4 | 6) => {
      const t = buildTopology({ seed: 3, sites: [dual('a'), dual('b')] });
      const ha = t.site('a').host;
      const hb = t.site('b').host;
      const bindAt = family === 6 ? '::' : '0.0.0.0';
      const sa = ha.bind({ address: bindAt, port: 40000 });
      const sb = hb.bind({ address: bindAt, port: 40001 });
      // The peers' endpoints as a rendezvous would report them.
      const pa = family === 6 ? { address: ha.addresses6[0]!, port: 40000 } : { address: t.site('a').publicAddress, port: 40000 };
      const pb = family === 6 ? { address: hb.addresses6[0]!, port: 40001 } : { address: t.site('b').publicAddress, port: 40001 };
      const gotA = inbox(sa);
      const gotB = inbox(sb);
      // a starts at 0 and probes every 50 ms; b starts 30 ms later, after a's first probe reached b's router (20.5 ms).
      for (let i = 0; i < 10; i++) {
        t.scheduler.at(i * 50, () => sa.send(Buffer.from(`a${i}`), pb));
        t.scheduler.at(30 + i * 50, () => sb.send(Buffer.from(`b${i}`), pa));
      }
      await t.scheduler.advance(600);
      return { t, gotA, gotB, pa, pb };
    };

    const v6 = await run(6);
    const bRouter = v6.t.site('b').nat!;
    assert.equal(bRouter.drops['fw-filtered'], 1, "a's first probe reached b's firewall before b had sent");
    assert.ok(v6.gotB.length >= 9 && v6.gotA.length >= 9, `a got ${v6.gotA.length}, b got ${v6.gotB.length}`);
    assert.equal(v6.gotB[0]?.text, 'a1');
    assert.ok(v6.gotA.every((g) => g.from.address === v6.pb.address && g.from.port === v6.pb.port), 'b is seen on its own address and port');
    assert.ok(v6.gotB.every((g) => g.from.address === v6.pa.address && g.from.port === v6.pa.port));

    const v4 = await run(4);
    assert.equal(v4.gotA.length + v4.gotB.length, 0, 'masquerade: the early probe left an unreplied entry, b clashed onto another port');
    const bNat = v4.t.site('b').nat!.table;
    const bMapping = bNat.mappings(v4.t.scheduler.now()).find((m) => m.internal.port === 40001);
    assert.ok(bMapping !== undefined && bMapping.externalPort !== 40001, "b's flow was moved off the port a's probe holds");
    assert.ok(bNat.stats.unrepliedEntries >= 1);
  });

  it('a v6-only host has no IPv4: its udp4 socket cannot send (ENETUNREACH), its udp6 socket reaches the server over IPv6', async () => {
    const t = buildTopology({ seed: 4, sites: [{ name: 'd', nat: 'port-restricted-cone', ipv6: 'v6-only', hosts: 2 }] });
    const h = t.site('d').host;
    assert.deepEqual(h.addresses, ['2001:db8:1::2']);
    assert.deepEqual(h.addresses4, []);
    assert.equal(h.address, '2001:db8:1::2');
    assert.deepEqual(t.site('d').hosts[1]?.addresses, ['2001:db8:1::3']);
    assert.throws(() => h.bind({ address: '10.1.0.2' }), (e: unknown) => isBurrowError(e, 'ERR_SOCKET_BIND'));

    const s4 = h.bind({ address: '0.0.0.0' });
    const e4 = errors(s4);
    s4.send(Buffer.from('x'), SRV4);
    assert.equal(e4.length, 1);
    assert.ok(isBurrowError(e4[0]));
    assert.equal(errno(e4[0]), 'ENETUNREACH');
    assert.equal(s4.stats.sendErrors, 1);
    assert.equal(s4.stats.datagramsOut, 0);

    const s6 = h.bind(); // the first address: IPv6
    assert.equal(s6.family, 6);
    const e6 = errors(s6);
    s6.send(Buffer.from('x'), SRV4);
    s6.send(Buffer.from('x'), { address: `::ffff:${SERVER_ADDRESSES[0]}`, port: 7000 });
    assert.deepEqual(e6.map(errno), ['EINVAL', 'ENETUNREACH'], 'a udp6 socket: EINVAL for IPv4, ENETUNREACH for a mapped address (IPv6-only)');
    assert.equal(t.network.trace.events.filter((e) => e.kind === 'send').length, 0, 'nothing left the host');

    const srv = t.server.bind({ address: '::', port: 7000 });
    const got = inbox(srv);
    s6.send(Buffer.from('hi'), SRV6);
    await t.scheduler.advance(100);
    assert.deepEqual(got.map((g) => g.from.address), ['2001:db8:1::2']);
  });

  it('a socket\'s family decides what it can reach: udp4 -> IPv6 and udp6 -> IPv4 fail with EINVAL; a host without IPv6 cannot send from ::', () => {
    const t = buildTopology({ seed: 5, sites: [dual('a'), { name: 'v4', nat: 'port-restricted-cone' }] });
    const s4 = t.site('a').host.bind();
    const e4 = errors(s4);
    s4.send(Buffer.from('x'), SRV6);
    assert.deepEqual(e4.map(errno), ['EINVAL']);
    assert.match(e4[0]!.message, /udp4 socket cannot send to an IPv6 address/);

    const old = t.site('v4').host;
    assert.deepEqual(old.addresses, ['10.2.0.2'], 'a site without ipv6 is built as before');
    assert.equal(t.site('v4').nat!.firewall6, null);
    const s6 = old.bind({ address: '::' });
    const e6 = errors(s6);
    s6.send(Buffer.from('x'), SRV6);
    assert.deepEqual(e6.map(errno), ['ENETUNREACH']);
    assert.throws(() => old.bind({ address: '2001:db8:1::2' }), (e: unknown) => isBurrowError(e, 'ERR_SOCKET_BIND'));
    // Bad input is still a clear error.
    s6.send(Buffer.from('x'), { address: '2001:db8::zz', port: 1 });
    assert.match(e6[1]!.message, /bad destination/);
  });

  it('a site with IPv4 UDP blocked but IPv6 open: IPv4 UDP is dropped at the router, IPv6 UDP passes both ways', async () => {
    const t = buildTopology({ seed: 6, sites: [{ ...labSite('udp-blocked', 'c'), ipv6: 'dual' }] });
    const h = t.site('c').host;
    const srv4 = t.server.bind({ address: SERVER_ADDRESSES[0], port: 7000 });
    const srv6 = t.server.bind({ address: '::', port: 7000 });
    const in4 = inbox(srv4);
    const in6 = inbox(srv6);
    const s4 = h.bind({ address: '0.0.0.0', port: 40000 });
    const s6 = h.bind({ address: '::', port: 40000 });
    const back = inbox(s6);
    s4.send(Buffer.from('v4'), SRV4);
    s6.send(Buffer.from('v6'), SRV6);
    await t.scheduler.advance(100);
    assert.equal(in4.length, 0);
    assert.equal(t.site('c').nat!.drops['udp-blocked'], 1);
    assert.deepEqual(in6.map((g) => g.text), ['v6']);
    srv6.send(Buffer.from('back'), in6[0]!.from);
    await t.scheduler.advance(100);
    assert.deepEqual(back.map((g) => g.text), ['back']);
  });

  it('pinholes expire like the NAT\'s UDP flows: 30 s unreplied, 120 s once two-way, 5 s on a short-lifetime site', async () => {
    const setup = (nat: SiteSpec['nat']) => {
      const t = buildTopology({ seed: 7, sites: [dual('a', nat)] });
      const srv = t.server.bind({ address: '::', port: 7000 });
      const s = t.site('a').host.bind({ address: '::', port: 40000 });
      const got = inbox(s);
      const fw = t.site('a').nat!.firewall6!;
      const now = () => t.scheduler.now();
      const at = (ms: number) => t.scheduler.advance(ms - now());
      /** The host sends; resolves when the packet has crossed the firewall (0.5 ms LAN). */
      const out = async () => {
        s.send(Buffer.from('out'), SRV6);
        await t.scheduler.advance(0.5);
        return now();
      };
      /** The server sends to the host; resolves whether it arrived. */
      const inbound = async () => {
        const before = got.length;
        srv.send(Buffer.from('in'), { address: '2001:db8:1::2', port: 40000 });
        await t.scheduler.advance(50);
        return got.length > before;
      };
      return { t, fw, now, at, out, inbound };
    };

    // Unreplied: 30 s from the last outbound packet.
    const u = setup('port-restricted-cone');
    const t0 = await u.out();
    await u.at(t0 + 29_900);
    assert.equal(u.fw.pinholes(u.now()).length, 1);
    await u.at(t0 + 30_100);
    assert.equal(u.fw.pinholes(u.now()).length, 0);
    assert.equal(await u.inbound(), false);
    assert.ok(u.t.network.trace.events.some((e) => e.kind === 'fw-state' && e.note?.startsWith('pinhole-expired')));
    // Outbound refreshes.
    const t1 = await u.out();
    await u.at(t1 + 20_000);
    const t2 = await u.out();
    await u.at(t2 + 20_000);
    assert.equal(await u.inbound(), true, 'refreshed at t1 + 20 s, alive 40 s after t1');

    // Two-way: 120 s from the last admitted packet.
    const w = setup('port-restricted-cone');
    await w.out();
    assert.equal(await w.inbound(), true);
    const admitted = w.now() - 50 + 10.5; // the reply crossed the firewall 10.5 ms after it was sent
    assert.equal(w.fw.pinholes(w.now())[0]?.twoWay, true);
    await w.at(admitted + 119_900);
    assert.equal(w.fw.pinholes(w.now()).length, 1);
    await w.at(admitted + 120_100);
    assert.equal(w.fw.pinholes(w.now()).length, 0);
    assert.equal(await w.inbound(), false);

    // The site's NAT lifetime applies to IPv6 too (the conntrack sysctls are per namespace).
    const s = setup(natProfile('port-restricted-cone', { shortLifetime: true }));
    assert.equal(s.fw.options.unrepliedTimeoutMs, 5_000);
    const t3 = await s.out();
    await s.at(t3 + 4_900);
    assert.equal(await s.inbound(), true);
    await s.at(s.now() + 5_100);
    assert.equal(await s.inbound(), false);
  });

  it('IPv6 packets carry 48 header bytes against the link MTU; the hop limit dies in the core like a TTL', async () => {
    const t = buildTopology({ seed: 8, sites: [{ ...dual('a'), wan: { delayMs: 10, mtu: 1500 } }] });
    const srv = t.server.bind({ address: '::', port: 7000 });
    const got = inbox(srv);
    const s = t.site('a').host.bind({ address: '::', port: 40000 });
    s.send(Buffer.alloc(1452), SRV6);
    s.send(Buffer.alloc(1453), SRV6);
    await t.scheduler.advance(100);
    assert.deepEqual(got.map((g) => g.text.length), [1452]);
    s.setTtl(2);
    s.send(Buffer.from('primer'), SRV6);
    await t.scheduler.advance(100);
    assert.equal(got.length, 1);
    assert.equal(t.core.drops['ttl-expired'], 1, 'a hop limit of 2 leaves the site router and dies in the core');
  });

  it('IPv6 sites need a dual-stack server and are not built behind a carrier NAT', () => {
    assert.throws(() => buildTopology({ seed: 9, ipv6: false, sites: [dual('a')] }), /needs a topology with ipv6/);
    assert.throws(() => buildTopology({ seed: 9, sites: [{ ...labSite('double-nat', 'a'), ipv6: 'dual' }] }), /carrier NAT/);
    assert.equal(buildTopology({ seed: 9, sites: [{ name: 'a', nat: 'full-cone' }] }).serverAddresses6, null);
  });
});
