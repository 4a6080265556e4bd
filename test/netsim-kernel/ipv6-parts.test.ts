/**
 * The IPv6 layer's pure parts (no root needed): the address plan, the
 * firewall ruleset, reading base chains from `nft -j`, and the lab's hosts
 * file with its input checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SERVER_IP6, SERVER_IP6_ALT, baseChainsOf, buildBaseIpv6, ipv6FirewallRules, siteIpv6Plan, type Ipv6Ops } from '../../netsim/kernel/ipv6.js';
import { checkLabName, hostsFileText, writeNetnsHosts } from '../../netsim/kernel/netns-etc.js';

test('site address plan: core link 2001:db8:0:k::/64, routed LAN 2001:db8:k::/64 in hex', () => {
  const p = siteIpv6Plan(12);
  assert.equal(p.coreLink, '2001:db8:0:c::/64');
  assert.equal(p.coreIp, '2001:db8:0:c::1');
  assert.equal(p.wanIp, '2001:db8:0:c::2');
  assert.equal(p.prefix, '2001:db8:c::/64');
  assert.equal(p.routerIp, '2001:db8:c::1');
  assert.equal(p.hostIp(0), '2001:db8:c::2');
  assert.equal(p.hostIp(9), '2001:db8:c::b');
  assert.throws(() => siteIpv6Plan(0), /out of range/);
  assert.throws(() => siteIpv6Plan(1.5), /out of range/);
});

test('the firewall is RFC 6092 simple security in its own ip6 table', () => {
  const r = ipv6FirewallRules({ table: 'burrow_abc1234', wan: 'wan-abc1234', lan: 'lan-abc1234' });
  const lines = r.split('\n').map((l) => l.trim());
  assert.equal(lines[0], 'table ip6 burrow_abc1234 {');
  assert.ok(lines.includes('type filter hook forward priority filter; policy drop;'));
  const est = lines.indexOf('ct state established,related accept');
  const lan = lines.indexOf('iifname "lan-abc1234" accept');
  assert.ok(est > 0 && lan > est, 'replies, then everything from the LAN');
  assert.match(r, /icmpv6 type \{[^}]*packet-too-big[^}]*\} accept/);
  assert.ok(!/wan-abc1234.*accept/.test(r), 'nothing from the WAN is accepted as such');
  assert.ok(!/masquerade|snat|dnat/.test(r), 'no NAT66');
});

test('baseChainsOf lists the base chains of one inet table and refuses odd names', () => {
  const json = JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6' } },
      { chain: { family: 'inet', table: 'burrow_x', name: 'forward', hook: 'forward', prio: 0 } },
      { chain: { family: 'inet', table: 'burrow_x', name: 'postrouting', hook: 'postrouting', prio: 100 } },
      { chain: { family: 'inet', table: 'burrow_x', name: 'helper' } },
      { chain: { family: 'inet', table: 'other', name: 'forward', hook: 'forward' } },
      { chain: { family: 'ip6', table: 'burrow_x', name: 'forward', hook: 'forward' } },
    ],
  });
  assert.deepEqual(baseChainsOf(json, 'burrow_x'), ['forward', 'postrouting']);
  assert.deepEqual(baseChainsOf('{"nftables":[]}', 'burrow_x'), []);
  const bad = JSON.stringify({ nftables: [{ chain: { family: 'inet', table: 'burrow_x', name: 'a;flush ruleset', hook: 'input' } }] });
  assert.throws(() => baseChainsOf(bad, 'burrow_x'), /unexpected nftables chain name/);
});

test('hosts file: loopback lines plus A and AAAA lines; bad names and addresses are refused', () => {
  const text = hostsFileText([{ name: 'rv.lab.example', addresses: ['198.51.100.2', '2001:db8:ffff::1'] }]);
  assert.deepEqual(text.split('\n'), [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    '198.51.100.2\trv.lab.example',
    '2001:db8:ffff::1\trv.lab.example',
    '',
  ]);
  assert.throws(() => checkLabName({ name: 'a b', addresses: ['198.51.100.2'] }), /not a host name/);
  assert.throws(() => checkLabName({ name: 'x\n1.2.3.4 evil', addresses: ['198.51.100.2'] }), /not a host name/);
  assert.throws(() => checkLabName({ name: 'ok.example', addresses: [] }), /at least one address/);
  assert.throws(() => checkLabName({ name: 'ok.example', addresses: ['198.51.100.2 evil'] }), /not an IP address/);
});

test('only lab-shaped namespace names get an /etc/netns directory', () => {
  for (const ns of ['../etc', 'bnk-abcd123-core/../../x', 'default', '']) {
    assert.throws(() => writeNetnsHosts(ns, []), /not a lab namespace name/);
  }
});

test("the server's second IPv6 address is deprecated, so replies from a [::] socket leave from the first", async () => {
  const batches = new Map<string, string[]>();
  const ops: Ipv6Ops = {
    ipBatch: async (ns, lines) => {
      batches.set(ns, [...(batches.get(ns) ?? []), ...lines.map((l) => l.join(' '))]);
    },
    nft: async () => {},
    exec: async () => ({ stdout: '' }),
  };
  await buildBaseIpv6(ops, { core: 'c', server: 's', outside: 'o', coreServerIf: 'c0', coreOutsideIf: 'cx', upIf: 'up' });
  const server = batches.get('s') ?? [];
  const addr = (ip: string): string | undefined => server.find((l) => l.startsWith(`addr add ${ip}/64 `));
  assert.equal(addr(SERVER_IP6), `addr add ${SERVER_IP6}/64 dev up nodad`, 'the first address is preferred');
  assert.equal(addr(SERVER_IP6_ALT), `addr add ${SERVER_IP6_ALT}/64 dev up nodad preferred_lft 0`, 'the second one is never chosen as a source');
});
