/**
 * Which host IPv6 addresses are offered: never link-local, unique-local only
 * when no global one exists, at most a couple per /64.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ipv6Kind, selectIpv6Addresses, flattenInterfaces, MAX_IPV6_PER_PREFIX, type InterfaceAddress } from '../../src/nat/ipv6-addresses.js';
import { ipToBytes } from '../../src/net/ip.js';

const row = (address: string, iface = 'eth0', internal = false): InterfaceAddress => ({ interface: iface, address, family: 'IPv6', internal });

test('ipv6Kind: each range by its first bits', () => {
  const cases: Array<[string, ReturnType<typeof ipv6Kind>]> = [
    ['2001:db8::1', 'global'],
    ['2a00:1450:4001:82b::200e', 'global'],
    ['3fff:ffff::1', 'global'],
    ['fd00::2', 'unique-local'],
    ['fc12:3456::1', 'unique-local'],
    ['fe80::fc:ff:fe00:1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['fec0::1', 'other'], // deprecated site-local
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['ff02::1', 'multicast'],
    ['::ffff:192.0.2.1', 'ipv4-mapped'],
    ['64:ff9b::c000:201', 'other'],
    ['4000::1', 'other'],
    ['192.0.2.1', null],
    ['not an address', null],
  ];
  for (const [a, kind] of cases) assert.equal(ipv6Kind(a), kind, a);
});

test('link-local, loopback and IPv4 rows are never selected; global ones are usable', () => {
  const sel = selectIpv6Addresses([
    row('::1', 'lo', true),
    row('fe80::1'),
    { interface: 'eth0', address: '192.168.1.2', family: 'IPv4', internal: false },
    row('2001:db8:1::10'),
    row('fd00::2'),
    row('ff02::1'),
  ]);
  assert.deepEqual(sel.global, [{ address: '2001:db8:1::10', interface: 'eth0', kind: 'global' }]);
  assert.deepEqual(sel.uniqueLocal, [{ address: 'fd00::2', interface: 'eth0', kind: 'unique-local' }]);
  assert.deepEqual(sel.usable.map((a) => a.address), ['2001:db8:1::10'], 'a ULA is not usable while a global address exists');
  assert.equal(sel.leftOut, 0);
});

test('only unique-local addresses: they become the usable ones', () => {
  const sel = selectIpv6Addresses([row('fe80::1'), row('fd00::2'), row('fd00:1::3', 'wlan0')]);
  assert.deepEqual(sel.global, []);
  assert.deepEqual(sel.usable.map((a) => `${a.interface} ${a.address}`), ['eth0 fd00::2', 'wlan0 fd00:1::3']);
});

test('temporary addresses: at most two per /64 (first ones kept), other /64s counted separately; duplicates once', () => {
  const sel = selectIpv6Addresses([
    row('2001:db8:a:b::1'),
    row('2001:db8:a:b:1111:2222:3333:4444'),
    row('2001:db8:a:b:5555:6666:7777:8888'),
    row('2001:db8:a:b:9999::1'),
    row('2001:db8:a:c::1'),
    row('2001:DB8:A:B::1', 'eth1'), // the same address in another spelling, on another interface
  ]);
  assert.deepEqual(sel.global.map((a) => a.address), ['2001:db8:a:b::1', '2001:db8:a:b:1111:2222:3333:4444', '2001:db8:a:c::1']);
  assert.equal(sel.leftOut, 2);
});

test('no IPv6 at all: empty selection', () => {
  const sel = selectIpv6Addresses(flattenInterfaces({ lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }], eth0: undefined }));
  assert.deepEqual(sel, { global: [], uniqueLocal: [], usable: [], leftOut: 0 });
});

test('property: never a link-local or other non-unicast address; per-/64 and total bounds hold; usable is global when any', () => {
  const group = fc.integer({ min: 0, max: 0xffff }).map((g) => g.toString(16));
  const prefixes = ['2001:db8:0:1', '2001:db8:0:2', 'fd00:0:0:1', 'fe80:0:0:0', 'ff02:0:0:0', '0:0:0:0'];
  const addr = fc.tuple(fc.constantFrom(...prefixes), fc.array(group, { minLength: 4, maxLength: 4 })).map(([p, g]) => `${p}:${g.join(':')}`);
  fc.assert(
    fc.property(fc.array(fc.tuple(addr, fc.boolean()), { maxLength: 40 }), (rows) => {
      const sel = selectIpv6Addresses(rows.map(([a, internal]) => row(a, 'eth0', internal)));
      const all = [...sel.global, ...sel.uniqueLocal];
      for (const a of all) {
        const k = ipv6Kind(a.address);
        assert.ok(k === 'global' || k === 'unique-local', a.address);
        assert.equal(k, a.kind);
      }
      const per = new Map<string, number>();
      for (const a of all) {
        const key = Buffer.from(ipToBytes(a.address)!.subarray(0, 8)).toString('hex');
        per.set(key, (per.get(key) ?? 0) + 1);
      }
      for (const n of per.values()) assert.ok(n <= MAX_IPV6_PER_PREFIX);
      assert.equal(new Set(all.map((a) => a.address)).size, all.length, 'no duplicates');
      assert.deepEqual(sel.usable, sel.global.length > 0 ? sel.global : sel.uniqueLocal);
      const candidates = rows.filter(([a, internal]) => !internal && ['global', 'unique-local'].includes(ipv6Kind(a) ?? ''));
      assert.ok(all.length + sel.leftOut <= candidates.length);
      if (candidates.length > 0) assert.ok(all.length > 0, 'something is kept when candidates exist');
    }),
  );
});
