/**
 * The relay (stcp) matrix on the kernel lane: the real burrow CLI behind real
 * NATs, 16 MiB each way per pair, SHA-256 checked both ways, every cell against
 * netsim/matrix/expected.ts.
 *
 * The test runs the representative subset (REPRESENTATIVE_PAIRS: every profile
 * on each side at least once, including udp-blocked, symmetric-random,
 * double-nat, lossy-core and short-lifetime, and the diagonal of the hard
 * ones, and the port-mapping router); `npm run netsim` runs all 121 ordered pairs.
 * Needs root and nftables/conntrack/iproute2/stun-client/stun-server; skipped otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { PROFILE_NAMES, kernelLabSkipReason, listNamespaces } from '../../netsim/kernel/index.js';
import {
  EXPECTED,
  GRID_ORDER,
  expectedFor,
  formatSummary,
  formatTable,
  directVia,
  gridCoversProfiles,
  pairKey,
  rfc4787Direct,
  type KernelMatrixRun,
} from '../../netsim/matrix/index.js';
import { BURROW_ENTRY, REPRESENTATIVE_PAIRS, TRAFFIC_ENTRY, runKernelMatrix } from '../../netsim/kernel/matrix/index.js';

const skip = kernelLabSkipReason({ portmapRouter: true });
const SIZE = 16 * 1024 * 1024;

test('the expected table covers every ordered pair; relay everywhere; the direct column follows RFC 4787', () => {
  assert.ok(gridCoversProfiles(), 'GRID_ORDER is exactly the kernel profiles');
  assert.equal(Object.keys(EXPECTED).length, PROFILE_NAMES.length ** 2);
  for (const a of GRID_ORDER) {
    for (const b of GRID_ORDER) {
      const e = expectedFor(a, b);
      assert.equal(e.relay, 'relay', `${pairKey(a, b)} must relay in this version`);
      assert.equal(e.direct, rfc4787Direct(a, b).direct, `${pairKey(a, b)}: the direct grid disagrees with the RFC 4787 reasoning`);
      assert.equal(e.direct, expectedFor(b, a).direct, `${pairKey(a, b)}: the direct expectation is symmetric`);
      assert.deepEqual([e.via, e.viaWhy], [directVia(a, b).via, directVia(a, b).why], `${pairKey(a, b)}: the via column follows its reasoning`);
      assert.equal(e.via, expectedFor(b, a).via, `${pairKey(a, b)}: the via column is symmetric`);
      assert.equal(e.via === 'none', e.direct === 'relay', `${pairKey(a, b)}: 'none' exactly for relay cells`);
      if (a !== 'upnp-router' && b !== 'upnp-router') assert.ok(e.via === 'punch' || e.via === 'none', `${pairKey(a, b)}: no mapping without a port-mapping router`);
      else assert.ok(e.via !== 'punch', `${pairKey(a, b)}: a port-mapping router in the pair`);
    }
  }
  // The cases the issue names.
  assert.equal(expectedFor('port-restricted-cone', 'port-restricted-cone').direct, 'direct');
  assert.equal(expectedFor('symmetric-random', 'symmetric-random').direct, 'relay');
  assert.equal(expectedFor('udp-blocked', 'full-cone').direct, 'relay');
  assert.equal(expectedFor('symmetric-random', 'port-restricted-cone').direct, 'birthday');
  assert.equal(expectedFor('symmetric-random', 'full-cone').direct, 'direct');
  // The port-mapping router: direct with every NAT that lets UDP out, through the mapped port where punching alone cannot.
  for (const other of ['symmetric-random', 'upnp-router'] as const) {
    assert.deepEqual([expectedFor('upnp-router', other).direct, expectedFor('upnp-router', other).via], ['direct', 'mapped'], other);
  }
  for (const other of ['full-cone', 'restricted-cone', 'port-restricted-cone', 'double-nat', 'lossy-core'] as const) {
    assert.deepEqual([expectedFor(other, 'upnp-router').direct, expectedFor(other, 'upnp-router').via], ['direct', 'either'], other);
  }
  assert.deepEqual([expectedFor('udp-blocked', 'upnp-router').direct, expectedFor('udp-blocked', 'upnp-router').via], ['relay', 'none']);
  assert.match(expectedFor('upnp-router', 'port-restricted-cone').why, /without the mapping: birthday probing/);
  assert.match(expectedFor('symmetric-random', 'upnp-router').why, /without the mapping: relay/);
});

test('the representative subset puts every profile on each side at least once', () => {
  for (const p of PROFILE_NAMES) {
    assert.ok(REPRESENTATIVE_PAIRS.some(([a]) => a === p), `${p} as provider`);
    assert.ok(REPRESENTATIVE_PAIRS.some(([, b]) => b === p), `${p} as visitor`);
  }
  for (const p of ['udp-blocked', 'symmetric-random', 'double-nat', 'lossy-core'] as const) {
    assert.ok(REPRESENTATIVE_PAIRS.some(([a, b]) => a === p && b === p), `${p} with itself (two sites)`);
  }
  assert.equal(new Set(REPRESENTATIVE_PAIRS.map(([a, b]) => pairKey(a, b))).size, REPRESENTATIVE_PAIRS.length, 'no pair twice');
});

test(
  `relay matrix, representative subset (${REPRESENTATIVE_PAIRS.length} of ${PROFILE_NAMES.length ** 2} ordered pairs; npm run netsim runs all): 16 MiB each way byte-exact, every cell as expected, nothing left behind`,
  { skip: skip ?? (!existsSync(BURROW_ENTRY) || !existsSync(TRAFFIC_ENTRY) ? `build first: ${BURROW_ENTRY} missing` : false), timeout: 240_000 },
  async (t) => {
    const run: KernelMatrixRun = await runKernelMatrix({
      pairs: REPRESENTATIVE_PAIRS,
      sizeBytes: SIZE,
      transferTimeoutMs: 60_000,
      onPair: (r, done, total) =>
        t.diagnostic(`[${done}/${total}] ${r.provider} -> ${r.visitor}: ${r.outcome} set-up ${r.setupMs?.toFixed(0)} ms, first byte ${r.ttfbMs?.toFixed(0)} ms, complete ${r.totalMs?.toFixed(0)} ms${r.error ? ` (${r.error})` : ''}`),
    });
    for (const line of `${formatTable(run)}\n${formatSummary(run)}`.split('\n')) t.diagnostic(line);

    assert.equal(run.results.length, REPRESENTATIVE_PAIRS.length);
    for (const r of run.results) {
      const where = `${r.provider} -> ${r.visitor} (sites ${r.providerSite} -> ${r.visitorSite})`;
      assert.equal(r.outcome, expectedFor(r.provider, r.visitor).relay, `${where}: ${r.error ?? ''}`);
      assert.ok(r.asExpected, where);
      assert.ok(r.upVerified && r.downVerified, `${where}: SHA-256 checked both ways`);
      assert.equal(r.bytesUp, SIZE, `${where}: bytes up`);
      assert.equal(r.bytesDown, SIZE, `${where}: bytes down`);
      assert.equal(r.path, 'relay', where);
      assert.ok(r.ttfbMs !== null && r.totalMs !== null && r.ttfbMs <= r.totalMs, where);
      if (r.provider === r.visitor) assert.notEqual(r.providerSite, r.visitorSite, `${where}: a same-profile pair crosses two sites`);
    }
    // Each site built once: one per profile, plus a second one per profile paired with itself.
    const diagonal = new Set(REPRESENTATIVE_PAIRS.filter(([a, b]) => a === b).map(([a]) => a));
    assert.equal(run.sites.length, PROFILE_NAMES.length + diagonal.size);
    for (const s of run.sites) assert.ok(s.stun, `site ${s.index} (${s.profile}) was classified`);

    // Nothing of the run is left: no namespace, no process started inside it.
    assert.deepEqual(run.leftNamespaces, []);
    assert.deepEqual((await listNamespaces()).filter((n) => n.includes(`-${run.runId}-`)), []);
    assert.ok(run.pids.length >= 1 + 1 + 3 * REPRESENTATIVE_PAIRS.length, 'every started process was recorded');
    for (const pid of run.pids) assert.ok(await waitDead(pid, 3000), `process ${pid} started in the lab is gone`);
  },
);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitDead(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return !alive(pid);
}
