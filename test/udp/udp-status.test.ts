/** `burrow status` in words shows a UDP session's flows, datagrams, limit and drops, and the totals since start. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statusInWords } from '../../cli/status.js';
import { countersStatus } from '../../peer/status.js';
import { PeerCounters } from '../../peer/peer-counters.js';
import { UdpCounters } from '../../src/udp/index.js';

test('status in words: a UDP session line and the UDP totals; a TCP-only peer shows no UDP line', () => {
  const counters = new PeerCounters();
  const session = new UdpCounters(counters.udp);
  session.flowOpened();
  session.flowOpened();
  session.sent(1000);
  session.received(2048);
  session.dropped('too_big');
  session.dropped('flow_cap');
  const text = statusInWords({
    pid: 42,
    peers: [
      {
        role: 'visitor',
        services: ['wg'],
        sessions: [
          {
            id: 1,
            service: 'wg',
            path: 'relay',
            bytesSent: 0,
            bytesReceived: 0,
            ageSeconds: 3,
            portMappings: [],
            udp: { flows: 2, maxFlows: 1024, flowsOpened: 2, datagramLimit: 1371, datagramsSent: 1, datagramsReceived: 1, bytesSent: 1000, bytesReceived: 2048, drops: session.nonZeroDrops() },
          },
        ],
        counters: countersStatus(counters),
      },
    ],
  });
  assert.match(text, /\n {4}udp: 2\/1024 flows open \(2 opened\), datagrams 1 sent \(1000 B\) \/ 1 received \(2\.0 KiB\), largest datagram now 1371 B, dropped: 1 too big, 1 flow cap\n/);
  assert.match(text, /\n {2}udp since start: 2 flows open \(2 opened\), datagrams 1 sent/);
  const tcpOnly = statusInWords({ pid: 1, peers: [{ role: 'provider', services: ['nas'], sessions: [], counters: countersStatus(new PeerCounters()) }] });
  assert.doesNotMatch(tcpOnly, /udp/);
});
