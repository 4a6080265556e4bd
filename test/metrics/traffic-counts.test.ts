/** The rendezvous's refusal and relay-byte counts behind its metrics. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TrafficCounts } from '../../rendezvous/traffic-counts.js';
import type { RelayResult } from '../../rendezvous/relay.js';

test('relay bytes: links running now are included live, and an ended link is counted once', () => {
  const c = new TrafficCounts();
  const a: RelayResult = { bytesAtoB: 0, bytesBtoA: 0, reason: 'closed' };
  c.relayStarted(a);
  a.bytesAtoB = 100;
  a.bytesBtoA = 7;
  assert.deepEqual(c.relayBytes, { toProvider: 100, toVisitor: 7 });
  a.bytesAtoB = 150;
  c.relayEnded(a);
  assert.deepEqual(c.relayBytes, { toProvider: 150, toVisitor: 7 });
  // A link that ended before it was reported started (a side closed during the splice).
  const b: RelayResult = { bytesAtoB: 5, bytesBtoA: 5, reason: 'closed' };
  c.relayEnded(b);
  c.relayStarted(b);
  assert.deepEqual(c.relayBytes, { toProvider: 155, toVisitor: 12 });
});

test('refusals by reason, each counted where it happened', () => {
  const c = new TrafficCounts();
  c.refused('BAD_TOKEN');
  c.refused('BAD_TOKEN');
  c.refused('TOO_MANY_UNAUTHENTICATED');
  assert.deepEqual(c.refusals, { BAD_TOKEN: 2, TOO_MANY_UNAUTHENTICATED: 1 });
  // A copy: the caller cannot change the counts.
  const r = c.refusals;
  r.BAD_TOKEN = 0;
  assert.equal(c.refusals.BAD_TOKEN, 2);
});
