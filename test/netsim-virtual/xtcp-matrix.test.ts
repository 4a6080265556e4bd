/**
 * The direct path (xtcp) on the in-process lane: every ordered pair of the
 * virtual profiles (144) as whole sessions that punch, then move 1 MiB each
 * way byte-exact, every cell as expected.ts's direct and via columns say; the
 * expectations for the virtual-only profile (symmetric-sequential); the
 * common pairs over many seeds; the no-direct-path pairs relay and say why.
 * No root; about 20 s alone on 2 vCPUs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allPairs, cellExpectation, contradictions, expectedFor, formatSummary, formatTable, labExpectedDirect, labExpectedVia, quantile } from '../../netsim/matrix/index.js';
import { VIRTUAL_PROFILES, runVirtualMatrix, runVirtualSession, type VirtualSessionResult } from '../../netsim/virtual/matrix/index.js';
import { PROFILE_NAMES } from '../../netsim/kernel/index.js';
import type { LabProfileName } from '../../netsim/virtual/topology.js';

const MIB = 1024 * 1024;

test('the direct column covers every virtual pair: the kernel table for kernel pairs, the sequential NAT reasoned out, symmetric in the pair', () => {
  for (const [a, b] of allPairs(VIRTUAL_PROFILES)) {
    const e = labExpectedDirect(a, b);
    assert.equal(e.direct, labExpectedDirect(b, a).direct, `${a} -> ${b}: symmetric`);
    assert.ok(e.why.length > 20, `${a} -> ${b}: says why`);
    if ((PROFILE_NAMES as readonly string[]).includes(a) && (PROFILE_NAMES as readonly string[]).includes(b)) {
      assert.equal(e.direct, expectedFor(a as (typeof PROFILE_NAMES)[number], b as (typeof PROFILE_NAMES)[number]).direct);
    }
  }
  const seq: LabProfileName = 'symmetric-sequential';
  // Endpoint-independent mapping on the other side: predict the sequential side's next port.
  for (const p of ['full-cone', 'restricted-cone', 'port-restricted-cone', 'hairpin', 'no-hairpin', 'double-nat', 'short-lifetime', 'lossy-core'] as const) {
    assert.equal(labExpectedDirect(seq, p).direct, 'prediction', p);
    assert.equal(cellExpectation('xtcp', seq, p), 'direct', `${p}: prediction must go direct`);
  }
  assert.equal(labExpectedDirect(seq, 'symmetric-random').direct, 'relay');
  assert.equal(labExpectedDirect(seq, seq).direct, 'relay');
  assert.equal(labExpectedDirect(seq, 'udp-blocked').direct, 'relay');
  assert.equal(cellExpectation('xtcp', 'symmetric-random', 'port-restricted-cone'), 'birthday');
  assert.equal(cellExpectation('stcp', seq, seq), 'relay');
});

test('the via column covers every virtual pair: the kernel table for kernel pairs; the sequential NAT needs the mapped port against upnp-router, punches otherwise', () => {
  const isKernel = (p: LabProfileName): p is (typeof PROFILE_NAMES)[number] => (PROFILE_NAMES as readonly string[]).includes(p);
  for (const [a, b] of allPairs(VIRTUAL_PROFILES)) {
    const v = labExpectedVia(a, b);
    assert.equal(v.via, labExpectedVia(b, a).via, `${a} -> ${b}: symmetric`);
    assert.ok(v.why.length > 20, `${a} -> ${b}: says why`);
    assert.equal(v.via === 'none', labExpectedDirect(a, b).direct === 'relay', `${a} -> ${b}: none exactly on relay cells`);
    if (isKernel(a) && isKernel(b)) assert.equal(v.via, expectedFor(a, b).via);
    else if (a !== 'upnp-router' && b !== 'upnp-router') assert.ok(v.via === 'punch' || v.via === 'none', `${a} -> ${b}: no router maps`);
  }
  const seq: LabProfileName = 'symmetric-sequential';
  assert.equal(labExpectedVia(seq, 'upnp-router').via, 'mapped');
  assert.equal(labExpectedVia(seq, 'full-cone').via, 'punch');
  assert.equal(labExpectedVia(seq, seq).via, 'none');
});

test(`in-process xtcp matrix: all ${VIRTUAL_PROFILES.length ** 2} ordered pairs, 1 MiB each way byte-exact, each as the direct column says, nothing left open`, { timeout: 240_000 }, async (t) => {
  const pairs = allPairs(VIRTUAL_PROFILES);
  const t0 = performance.now();
  const run = await runVirtualMatrix({ pairs, sizeBytes: MIB, seed: 1, mode: 'xtcp' });
  for (const line of `${formatTable(run)}\n${formatSummary(run)}`.split('\n')) t.diagnostic(line);
  t.diagnostic(`wall clock ${Math.round(performance.now() - t0)} ms`);
  assert.equal(run.mode, 'xtcp');
  assert.equal(run.results.length, pairs.length);
  assert.deepEqual(contradictions(run), []);
  for (const r of run.results) {
    const where = `${r.provider} -> ${r.visitor} (seed ${r.seed})`;
    assert.ok(r.upVerified && r.downVerified, `${where}: SHA-256 checked both ways: ${r.error ?? ''}`);
    assert.equal(r.bytesUp, MIB, where);
    assert.equal(r.bytesDown, MIB, where);
    assert.equal(r.leftSockets, 0, `${where}: sockets left`);
    assert.equal(r.leftListeners, 0, `${where}: listeners left`);
    // The via column: a "mapped" pair locked a router's mapping, a "punch" pair did not.
    if (r.outcome === 'direct') {
      assert.ok(r.via === 'mapped' || r.via === 'punch', where);
      if (r.expectedVia === 'mapped') assert.equal(r.via, 'mapped', `${where}: ${r.portmap ?? ''}`);
      if (r.expectedVia === 'punch') assert.equal(r.via, 'punch', where);
    } else assert.equal(r.via, undefined, where);
    assert.equal(r.portmap !== undefined, r.provider === 'upnp-router' || r.visitor === 'upnp-router', `${where}: port mapping only with a mapping router`);
    if (r.expected === 'direct') {
      assert.equal(r.outcome, 'direct', `${where}: ${r.punchFailure ?? ''}`);
      // Two sites: the path crosses the internet, never a LAN.
      assert.equal(r.path, 'direct internet', where);
      assert.ok(r.directMs !== null && r.directMs > 0 && r.directMs < 20_000, `${where}: time to direct ${r.directMs}`);
    } else if (r.expected === 'relay') {
      assert.equal(r.outcome, 'relay', where);
      assert.equal(r.path, 'relay', where);
      assert.equal(r.directMs, null, where);
      assert.ok(r.punchFailure, `${where}: the visitor says why not direct`);
    } else {
      assert.equal(r.expected, 'birthday', where);
      assert.ok(r.outcome === 'direct' || r.outcome === 'relay', where);
    }
  }
  // The pairs the RFC 4787 reasoning says go direct, all do; those it says cannot, none does.
  const direct = run.results.filter((r) => r.outcome === 'direct').length;
  const mustDirect = run.results.filter((r) => r.expected === 'direct').length;
  const mustRelay = run.results.filter((r) => r.expected === 'relay').length;
  // upnp-router adds 21 direct pairs (all but udp-blocked, both orders) and 2 relay ones (udp-blocked).
  assert.equal(mustDirect, 105);
  assert.equal(mustRelay, 27);
  assert.ok(direct >= mustDirect && direct <= run.results.length - mustRelay);
  // Through the mapped port where nothing else can work: upnp-router against symmetric-random, symmetric-sequential and itself.
  const mustMap = run.results.filter((r) => r.expectedVia === 'mapped');
  assert.equal(mustMap.length, 5);
  for (const r of mustMap) assert.equal(r.via, 'mapped', `${r.provider} -> ${r.visitor}`);
});

async function seeds(provider: LabProfileName, visitor: LabProfileName, n: number, first: number): Promise<VirtualSessionResult[]> {
  const out: VirtualSessionResult[] = [];
  for (let i = 0; i < n; i++) out.push(await runVirtualSession({ provider, visitor, seed: first + i, sizeBytes: 256 * 1024, mode: 'xtcp' }));
  return out;
}

function describe(rs: VirtualSessionResult[]): string {
  const t = rs.flatMap((r) => (r.directMs === null ? [] : [r.directMs]));
  return `${t.length}/${rs.length} direct; time to direct p50 ${quantile(t, 0.5)} ms, p95 ${quantile(t, 0.95)} ms (virtual)`;
}

test('port-restricted ↔ port-restricted (Linux masquerade both sides, the conntrack clash modelled) over 20 seeds: direct 20/20', { timeout: 60_000 }, async (t) => {
  const rs = await seeds('port-restricted-cone', 'port-restricted-cone', 20, 100);
  t.diagnostic(describe(rs));
  for (const r of rs) {
    assert.ok(r.upVerified && r.downVerified, `seed ${r.seed}: ${r.error ?? ''}`);
    assert.equal(r.outcome, 'direct', `seed ${r.seed}: ${r.punchFailure ?? ''}`);
    // The first attempt worked (TTL-limited priming kept the clash away): no attempt failed on either side.
    assert.equal(r.punchAttempts, undefined, `seed ${r.seed}`);
    assert.ok(!r.log.some((e) => e.event === 'punch-failed'), `seed ${r.seed}`);
  }
});

test('random symmetric ↔ port-restricted over 20 seeds: birthday probing goes direct in at least 19', { timeout: 60_000 }, async (t) => {
  const rs = await seeds('symmetric-random', 'port-restricted-cone', 20, 200);
  t.diagnostic(describe(rs));
  for (const r of rs) assert.ok(r.upVerified && r.downVerified, `seed ${r.seed}: ${r.error ?? ''}`);
  const direct = rs.filter((r) => r.outcome === 'direct');
  assert.ok(direct.length >= 19, describe(rs));
  for (const r of direct) {
    assert.match(String(r.log.find((e) => e.event === 'punch-start' && e.fields.component === 'visitor')?.fields.plan), /birthday/);
  }
});

test('symmetric ↔ symmetric and UDP blocked on either side: relay, byte-exact, and the visitor says why', { timeout: 60_000 }, async () => {
  const cases: Array<[LabProfileName, LabProfileName, RegExp]> = [
    ['symmetric-random', 'symmetric-random', /no punch can meet/],
    ['udp-blocked', 'port-restricted-cone', /UDP is blocked/],
    ['port-restricted-cone', 'udp-blocked', /UDP is blocked/],
    ['udp-blocked', 'udp-blocked', /UDP is blocked/],
  ];
  for (const [provider, visitor, why] of cases) {
    const r = await runVirtualSession({ provider, visitor, seed: 5, sizeBytes: MIB, mode: 'xtcp' });
    const where = `${provider} -> ${visitor}`;
    assert.equal(r.outcome, 'relay', `${where}: ${r.error ?? ''}`);
    assert.ok(r.upVerified && r.downVerified, where);
    assert.equal(r.bytesUp, MIB, where);
    assert.equal(r.bytesDown, MIB, where);
    const conn = r.log.find((e) => e.event === 'connection' && e.fields.component === 'visitor');
    assert.equal(conn?.fields.path, 'relay', where);
    assert.match(String(conn?.fields.why), why, where);
    assert.ok(!r.log.some((e) => e.event === 'direct-up'), where);
    // Nothing retried a hopeless plan.
    assert.equal(r.punchAttempts, 1, where);
  }
});
