/**
 * The relay (stcp) matrix on the in-process lane: every ordered pair of the
 * virtual lane's site profiles (the kernel lane's eleven, upnp-router's
 * router answering NAT-PMP and PCP, plus symmetric-sequential: 144 pairs),
 * each a whole session moving 16 MiB each way byte-exact, every cell checked
 * against expected.ts's relay column, and nothing left open. No root; about
 * a minute on 2 vCPUs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allPairs, contradictions, formatSummary, formatTable, labExpectedRelay } from '../../netsim/matrix/index.js';
import { VIRTUAL_PROFILES, runVirtualMatrix } from '../../netsim/virtual/matrix/index.js';
import { PROFILE_NAMES } from '../../netsim/kernel/index.js';

const SIZE = 16 * 1024 * 1024;

test('the virtual profiles are the kernel lane\'s plus symmetric-sequential, and every pair is expected to relay', () => {
  assert.deepEqual([...VIRTUAL_PROFILES].filter((p) => p !== 'symmetric-sequential').sort(), [...PROFILE_NAMES].sort());
  assert.ok(VIRTUAL_PROFILES.includes('symmetric-sequential'));
  for (const [a, b] of allPairs(VIRTUAL_PROFILES)) assert.equal(labExpectedRelay(a, b), 'relay', `${a} -> ${b}`);
});

test(`in-process relay matrix: all ${VIRTUAL_PROFILES.length ** 2} ordered pairs, 16 MiB each way byte-exact, as expected, nothing left open`, { timeout: 240_000 }, async (t) => {
  const pairs = allPairs(VIRTUAL_PROFILES);
  const run = await runVirtualMatrix({ pairs, sizeBytes: SIZE, seed: 1 });
  for (const line of `${formatTable(run)}\n${formatSummary(run)}`.split('\n')) t.diagnostic(line);
  assert.equal(run.results.length, pairs.length);
  assert.deepEqual(contradictions(run), []);
  for (const r of run.results) {
    const where = `${r.provider} -> ${r.visitor} (seed ${r.seed})`;
    assert.equal(r.outcome, 'relay', `${where}: ${r.error ?? ''}`);
    assert.equal(r.path, 'relay', where);
    assert.ok(r.upVerified && r.downVerified, `${where}: SHA-256 checked both ways`);
    assert.equal(r.bytesUp, SIZE, where);
    assert.equal(r.bytesDown, SIZE, where);
    assert.ok(r.setupMs !== null && r.ttfbMs !== null && r.totalMs !== null && r.ttfbMs <= r.totalMs, where);
    assert.equal(r.leftSockets, 0, `${where}: sockets left`);
    assert.equal(r.leftListeners, 0, `${where}: listeners left`);
  }
  // Each pair ran on its own seed: no two runs are the same.
  assert.equal(new Set(run.results.map((r) => r.tcpDigest)).size, run.results.length);
});
