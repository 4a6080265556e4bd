import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkExternalAddress, parseIPv4 } from '../../src/portmap/ipv4.js';
import { parseDefaultRoute } from '../../src/portmap/route-table.js';

test('external addresses: public ones pass; private, shared, loopback, unspecified, link-local, multicast do not', () => {
  for (const ok of ['11.0.0.1', '1.1.1.1', '100.63.255.255', '100.128.0.0', '172.15.255.255', '172.32.0.0', '192.167.1.1', '203.0.113.5']) {
    assert.deepEqual(checkExternalAddress(ok), { ok: true }, ok);
  }
  for (const bad of ['10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1', '100.64.0.1', '100.127.255.255', '127.0.0.1', '0.0.0.0', '169.254.1.1', '224.0.0.1', '255.255.255.255', 'nonsense', '']) {
    const v = checkExternalAddress(bad);
    assert.equal(v.ok, false, bad);
  }
  const cgn = checkExternalAddress('100.64.0.1');
  assert.ok(!cgn.ok && cgn.kind === 'behind-nat' && /another NAT sits above the router/.test(cgn.reason));
  const zero = checkExternalAddress('0.0.0.0');
  assert.ok(!zero.ok && zero.kind === 'no-address');
});

test('parseIPv4 is strict', () => {
  assert.deepEqual([...parseIPv4('192.168.0.1')!], [192, 168, 0, 1]);
  for (const bad of ['256.0.0.1', '1.2.3', '01.2.3.4', '1.2.3.4 ', '::ffff:1.2.3.4']) assert.equal(parseIPv4(bad), null, bad);
});

test('the default route comes from /proc/net/route (little-endian hex, lowest metric, up and via a gateway)', () => {
  const table = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth1\t00000000\t0101000A\t0003\t0\t0\t200\t00000000\t0\t0\t0',
    'eth0\t00000000\t014DA8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0',
    'eth0\t004DA8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0',
    'wg0\t00000000\t01010101\t0002\t0\t0\t1\t00000000\t0\t0\t0', // not up
    '',
  ].join('\n');
  assert.deepEqual(parseDefaultRoute(table), { interfaceName: 'eth0', gateway: '192.168.77.1', metric: 100 });
  assert.equal(parseDefaultRoute(table.split('\n').slice(0, 1).join('\n')), null);
  assert.equal(parseDefaultRoute('garbage\nmore garbage\n\x00'), null);
});
