import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOCAL_PACKET_MTU, NETWORK_PACKET_MTU, directPacketMtu, isLoopbackAddress } from '../../src/direct/udp-path.js';

const at = (address: string) => ({ address, port: 4000 });

test('loopback addresses, in every spelling, and nothing else', () => {
  for (const a of ['127.0.0.1', '127.45.1.9', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) assert.equal(isLoopbackAddress(a), true, a);
  for (const a of ['128.0.0.1', '10.0.0.1', '::2', '::', 'fe80::1', '::ffff:10.0.0.1', 'localhost', '']) assert.equal(isLoopbackAddress(a), false, a);
});

test('a direct path stays at the network MTU unless its datagrams stay on this host', () => {
  assert.equal(directPacketMtu(at('127.0.0.1')), LOCAL_PACKET_MTU);
  assert.equal(directPacketMtu(at('::1')), LOCAL_PACKET_MTU);
  assert.equal(directPacketMtu(at('203.0.113.7')), NETWORK_PACKET_MTU);
  assert.equal(directPacketMtu(at('192.168.1.20'), ['192.168.1.10', '2001:db8::5']), NETWORK_PACKET_MTU, 'a LAN neighbour is another host');
  assert.equal(directPacketMtu(at('192.168.1.10'), ['192.168.1.10']), LOCAL_PACKET_MTU, 'one of our own addresses');
  assert.equal(directPacketMtu(at('::ffff:192.168.1.10'), ['192.168.1.10']), LOCAL_PACKET_MTU, 'the same address, as a dual-stack socket reports it');
  assert.equal(directPacketMtu(at('2001:db8:0::5'), ['2001:db8::5']), LOCAL_PACKET_MTU, 'IPv6 compared as addresses, not text');
  assert.equal(directPacketMtu(at('not-an-ip'), ['not-an-ip']), NETWORK_PACKET_MTU);
  assert.ok(LOCAL_PACKET_MTU > NETWORK_PACKET_MTU && LOCAL_PACKET_MTU <= 65507, 'fits one UDP datagram');
});
