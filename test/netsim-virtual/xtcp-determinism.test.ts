/**
 * Determinism of the direct path on the in-process lane: the same seed gives
 * the same xtcp run event for event — UDP trace (STUN, primes, probes,
 * birthday sprays, KCP over the punched path, every datagram with its payload
 * hash and every NAT decision), TCP trace with chunk hashes, log events,
 * virtual times — and another seed gives another run. Every timer runs on
 * the virtual clock, the mux keepalive included (LANE_SESSION_TUNING is empty).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LANE_SESSION_TUNING, runVirtualSession, type VirtualSessionResult } from '../../netsim/virtual/matrix/index.js';

const MIB = 1024 * 1024;

function fingerprint(r: VirtualSessionResult): unknown {
  return {
    udp: r.udpDigest,
    tcp: r.tcpDigest,
    log: r.logDigest,
    logEvents: r.log,
    tcpEvents: r.tcpEvents,
    udpEvents: r.udpEvents,
    times: [r.setupMs, r.directMs, r.ttfbMs, r.totalMs, r.virtualEndMs, r.schedulerEvents],
    down: r.downSha256,
  };
}

test('xtcp determinism: the same seed gives the same punch and transfer event for event; another seed does not', { timeout: 60_000 }, async () => {
  assert.deepEqual(LANE_SESSION_TUNING, {}, 'the lane runs the production session defaults');
  // Birthday probing: the run with the most randomness (256 sockets, 2048 random ports, random NAT ports).
  const opts = { provider: 'symmetric-random', visitor: 'port-restricted-cone', sizeBytes: MIB, mode: 'xtcp', recordTrace: true, hashPayloads: true } as const;
  const a = await runVirtualSession({ ...opts, seed: 42 });
  const b = await runVirtualSession({ ...opts, seed: 42 });
  const c = await runVirtualSession({ ...opts, seed: 43 });
  for (const r of [a, b, c]) {
    assert.equal(r.outcome, 'direct', r.error ?? r.punchFailure);
    assert.ok(r.upVerified && r.downVerified);
  }
  // The trace holds the punch and the transfer over the direct path, with payload hashes.
  assert.ok(a.udpEvents.length > 5_000, `${a.udpEvents.length} UDP trace events`);
  const sends = a.udpEvents.filter((e) => e.kind === 'send' || e.kind === 'recv');
  assert.ok(sends.length > 2_000 && sends.every((e) => e.hash !== undefined), 'every datagram sent and received carries its payload hash');
  for (const ev of ['punch-start', 'direct-up', 'connection']) assert.ok(a.log.some((e) => e.event === ev), ev);
  assert.deepEqual(fingerprint(b), fingerprint(a));
  // Another seed: other ports, nonces, birthday ports, so another trace, log and time to direct.
  assert.notEqual(c.udpDigest, a.udpDigest);
  assert.notEqual(c.logDigest, a.logDigest);
  assert.notDeepEqual(c.udpEvents, a.udpEvents);
  assert.notEqual(c.directMs, a.directMs);
  // The same bytes arrive whatever the seed.
  assert.equal(c.downSha256, a.downSha256);
});
