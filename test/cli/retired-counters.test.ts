/** A reload's stopped entries keep their counts in the role's retired source: every total, UDP's included. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerCounters } from '../../peer/peer-counters.js';
import { RetiredCounters } from '../../cli/retired-counters.js';

test('absorbing a stopped peer adds every count, the UDP flows\' datagrams, bytes, drops and flows opened too', () => {
  const retired = new RetiredCounters();
  for (let round = 1; round <= 2; round++) {
    const c = new PeerCounters();
    c.sessionsOpened = 3;
    c.punchEnded('direct', 1);
    c.pathDeaths = 2;
    c.closedBytesSent = 1000;
    c.closedBytesReceived = 500;
    c.udp.flowOpened();
    c.udp.sent(100);
    c.udp.received(40);
    c.udp.dropped('malformed');
    retired.absorb(c);
  }
  const r = retired.counters;
  assert.equal(r.sessionsOpened, 6);
  assert.equal(r.punchesDirect, 2);
  assert.equal(r.repunches, 2);
  assert.equal(r.pathDeaths, 4);
  assert.equal(r.closedBytesSent, 2000);
  assert.equal(r.closedBytesReceived, 1000);
  assert.deepEqual(r.udp.counts, { datagramsSent: 2, bytesSent: 200, datagramsReceived: 2, bytesReceived: 80 });
  assert.equal(r.udp.drops.malformed, 2);
  assert.equal(r.udp.flowsOpened, 2);
  assert.equal(r.udp.flows, 0, 'flows open now are not counts: a stopped peer has none');
});
