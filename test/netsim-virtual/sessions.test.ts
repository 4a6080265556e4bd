/**
 * Whole burrow sessions on the in-process lane: the real RendezvousServer,
 * Provider and Visitor on virtual hosts behind virtual NATs, on the fake
 * clock, with seeded randomness (netsim/virtual/matrix/session.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runVirtualSession, type VirtualSessionResult } from '../../netsim/virtual/matrix/index.js';

const MIB = 1024 * 1024;

function fingerprint(r: VirtualSessionResult): unknown {
  return {
    udp: r.udpDigest,
    tcp: r.tcpDigest,
    log: r.logDigest,
    logEvents: r.log,
    tcpEvents: r.tcpEvents,
    udpEvents: r.udpEvents,
    times: [r.setupMs, r.ttfbMs, r.totalMs, r.virtualEndMs, r.schedulerEvents],
    down: r.downSha256,
  };
}

test('a whole stcp session in process: login, CPace, relay through the rendezvous, 2 MiB each way byte-exact, nothing left open', async () => {
  const r = await runVirtualSession({ provider: 'double-nat', visitor: 'udp-blocked', seed: 11, sizeBytes: 2 * MIB });
  assert.equal(r.error, undefined);
  assert.equal(r.outcome, 'relay');
  assert.equal(r.path, 'relay');
  assert.ok(r.upVerified && r.downVerified);
  assert.equal(r.bytesUp, 2 * MIB);
  assert.equal(r.bytesDown, 2 * MIB);
  assert.equal(r.targetConnections, 1);
  // Virtual times follow the topology: a login is at least two round trips of ~41 ms.
  assert.ok(r.setupMs !== null && r.setupMs > 150 && r.setupMs < 2000, `set-up ${r.setupMs}`);
  assert.ok(r.ttfbMs !== null && r.totalMs !== null && r.ttfbMs > 40 && r.ttfbMs <= r.totalMs, `ttfb ${r.ttfbMs}, total ${r.totalMs}`);
  // The rendezvous saw each peer from its site's public NAT address (the carrier NAT for double NAT).
  const logins = r.log.filter((e) => e.event === 'peer-login');
  assert.deepEqual(
    logins.map((e) => [e.fields.role, String(e.fields.remote).split(':')[0]]).sort(),
    [['provider', '203.0.113.10'], ['visitor', '203.0.113.11']],
  );
  for (const ev of ['relay-start', 'relay-end']) assert.ok(r.log.some((e) => e.event === ev && e.fields.component === 'rendezvous'), ev);
  assert.ok(r.log.some((e) => e.event === 'session-up' && e.fields.component === 'provider'));
  assert.equal(r.udpDigest.split(':')[0], '0', 'stcp sends no UDP');
  assert.equal(r.leftSockets, 0);
  assert.equal(r.leftListeners, 0);
});

test('a wrong secret fails on the virtual lane as on the real one: the visitor says so, the provider refuses, no byte reaches the service', async () => {
  const r = await runVirtualSession({ provider: 'full-cone', visitor: 'full-cone', seed: 3, sizeBytes: 1024, visitorSecret: 'not the secret' });
  assert.equal(r.outcome, 'failed');
  assert.match(r.error ?? '', /secret does not match/);
  assert.ok(r.log.some((e) => e.event === 'secret-mismatch' && e.fields.component === 'visitor'));
  assert.ok(r.log.some((e) => e.event === 'visitor-refused' && e.fields.component === 'provider'));
  assert.equal(r.targetConnections, 0);
  assert.equal(r.leftSockets, 0);
});

test('determinism: the same seed gives the same run event for event (traces with payload hashes, log events, virtual times); another seed does not', async () => {
  const opts = { provider: 'symmetric-random', visitor: 'port-restricted-cone', sizeBytes: MIB, recordTrace: true, hashPayloads: true } as const;
  const a = await runVirtualSession({ ...opts, seed: 42 });
  const b = await runVirtualSession({ ...opts, seed: 42 });
  const c = await runVirtualSession({ ...opts, seed: 43 });
  for (const r of [a, b, c]) assert.equal(r.outcome, 'relay', r.error);
  assert.ok(a.tcpEvents.length > 100 && a.tcpEvents.some((e) => e.hash !== undefined), 'the trace holds the chunks with their hashes');
  assert.ok(a.log.length > 10);
  assert.deepEqual(fingerprint(b), fingerprint(a));
  // Another seed: other ports, connection ids, nonces and tickets, so other traces and logs.
  assert.notEqual(c.tcpDigest, a.tcpDigest);
  assert.notEqual(c.logDigest, a.logDigest);
  assert.notDeepEqual(c.tcpEvents, a.tcpEvents);
  // The same bytes arrive whatever the seed.
  assert.equal(c.downSha256, a.downSha256);
});
