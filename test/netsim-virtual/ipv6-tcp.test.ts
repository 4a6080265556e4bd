/**
 * Virtual TCP over IPv6: a v6-only host reaches the dual-stack server (which
 * sees the host's own address), nothing connects in through a site's IPv6
 * firewall, a host without an address of the destination's family gets
 * ENETUNREACH, and listeners on `::` and 0.0.0.0 take what node's would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StreamSocket } from '../../src/net/stream-transport.js';
import { buildTopology, SERVER_ADDRESSES, SERVER_ADDRESSES6, type Topology } from '../../netsim/virtual/topology.js';
import { VirtualTcp } from '../../netsim/virtual/tcp.js';
import type { VirtualNode } from '../../netsim/virtual/network.js';

function lab(): { topo: Topology; tcp: VirtualTcp } {
  const topo = buildTopology({
    seed: 1,
    sites: [
      { name: 'six', nat: 'port-restricted-cone', ipv6: 'v6-only' },
      { name: 'dual', nat: 'port-restricted-cone', ipv6: 'dual' },
      { name: 'old', nat: 'port-restricted-cone' },
      { name: 'pub', nat: null, ipv6: 'dual' },
    ],
  });
  const nodes: VirtualNode[] = [topo.core, topo.server];
  for (const s of Object.values(topo.sites)) nodes.push(...[s.nat].filter((n) => n !== null), ...s.hosts);
  return { topo, tcp: new VirtualTcp(topo.network, { nodes, recordTrace: true, synTimeoutMs: 2_000 }) };
}

/** Resolves with the error code, or 'connect'; runs the clock meanwhile (bounded). */
async function outcome(topo: Topology, sock: StreamSocket): Promise<string> {
  let result: string | null = null;
  sock.once('connect', () => (result = 'connect'));
  sock.once('error', (e: NodeJS.ErrnoException) => (result = e.code ?? e.message));
  await topo.scheduler.runUntil(() => result !== null, { maxTime: topo.scheduler.now() + 5_000 });
  sock.destroy();
  return result ?? 'pending';
}

test('a v6-only host connects to the dual-stack server over IPv6; the server sees its own global address; a listener on :: takes both families', async () => {
  const { topo, tcp } = lab();
  const seen: Array<string | undefined> = [];
  const server = tcp.transport(topo.server).createServer({}, (s) => {
    seen.push(s.remoteAddress);
    s.resume();
  });
  const addr = await server.listen(7000, '::');
  assert.deepEqual(addr, { address: '::', port: 7000, family: 'IPv6' });
  const six = topo.site('six').host;
  const sock = tcp.transport(six).connect({ host: SERVER_ADDRESSES6[0], port: 7000 });
  assert.equal(await outcome(topo, sock), 'connect');
  assert.equal(await outcome(topo, tcp.transport(topo.site('old').host).connect({ host: SERVER_ADDRESSES[0], port: 7000 })), 'connect');
  assert.equal(await outcome(topo, tcp.transport(topo.site('dual').host).connect({ host: SERVER_ADDRESSES6[1], port: 7000 })), 'connect');
  await topo.scheduler.advance(100);
  assert.deepEqual(seen, ['2001:db8:1::2', '203.0.113.12', '2001:db8:2::2']);
  const syns = tcp.trace.events.filter((e) => e.kind === 'syn').map((e) => `${e.from} -> ${e.to}`);
  assert.match(syns[0] ?? '', /^\[2001:db8:1::2\]:\d+ -> \[2001:db8:ffff::1\]:7000$/);
});

test('a listener on 0.0.0.0 takes IPv4 only (ECONNREFUSED over IPv6), as node\'s would', async () => {
  const { topo, tcp } = lab();
  await tcp.transport(topo.server).createServer({}, (s) => s.resume()).listen(7000, '0.0.0.0');
  assert.equal(await outcome(topo, tcp.transport(topo.site('dual').host).connect({ host: SERVER_ADDRESSES6[0], port: 7000 })), 'ECONNREFUSED');
  assert.equal(await outcome(topo, tcp.transport(topo.site('dual').host).connect({ host: SERVER_ADDRESSES[0], port: 7000 })), 'connect');
});

test('nothing connects in through a site\'s IPv6 firewall (ETIMEDOUT); a public IPv6 host is reachable', async () => {
  const { topo, tcp } = lab();
  for (const name of ['dual', 'pub']) {
    await tcp.transport(topo.site(name).host).createServer({}, (s) => s.resume()).listen(8000, '::');
  }
  const dualHost = topo.site('dual').host.addresses6[0]!;
  assert.equal(await outcome(topo, tcp.transport(topo.server).connect({ host: dualHost, port: 8000 })), 'ETIMEDOUT');
  const timeout = tcp.trace.events.find((e) => e.kind === 'timeout');
  assert.equal(timeout?.note, 'firewall-inbound at dual-nat');
  assert.equal(await outcome(topo, tcp.transport(topo.server).connect({ host: topo.site('pub').host.addresses6[0]!, port: 8000 })), 'connect');
  // Inside to inside over IPv6 does not cross the firewall.
  const lan = tcp.transport(topo.site('dual').host).connect({ host: dualHost, port: 8000 });
  assert.equal(await outcome(topo, lan), 'connect');
});

test('no address of the destination\'s family: ENETUNREACH (v6-only to IPv4, IPv4-only to IPv6)', async () => {
  const { topo, tcp } = lab();
  await tcp.transport(topo.server).createServer({}, (s) => s.resume()).listen(7000, '::');
  assert.equal(await outcome(topo, tcp.transport(topo.site('six').host).connect({ host: SERVER_ADDRESSES[0], port: 7000 })), 'ENETUNREACH');
  assert.equal(await outcome(topo, tcp.transport(topo.site('old').host).connect({ host: SERVER_ADDRESSES6[0], port: 7000 })), 'ENETUNREACH');
  assert.equal(tcp.stats.accepted, 0);
  // Loopback IPv4 is there on a v6-only host, as on Linux (the provider reaches its target at 127.0.0.1).
  const six = topo.site('six').host;
  await tcp.transport(six).createServer({}, (s) => s.resume()).listen(9000, '127.0.0.1');
  assert.equal(await outcome(topo, tcp.transport(six).connect({ host: '127.0.0.1', port: 9000 })), 'connect');
});
