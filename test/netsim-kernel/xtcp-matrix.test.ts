/**
 * The direct path (xtcp) on the kernel lane: the real burrow CLI behind real
 * nftables NATs, against the direct column of netsim/matrix/expected.ts.
 *
 * One lab, one run:
 *  - port-restricted <-> port-restricted (plain Linux masquerade, with its
 *    conntrack race) 20 times: direct every time;
 *  - symmetric-random <-> port-restricted 20 times: direct (birthday probing)
 *    in at least 19, relay otherwise, never a failure;
 *  - the representative subset once: every cell as the table says
 *    ("birthday" cells may go either way), byte-exact both ways.
 * Time to the direct path is printed (targets are benchmarks, not asserted).
 * Needs root and nftables/conntrack/iproute2/stun-client/stun-server; skipped otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { kernelLabSkipReason, listNamespaces } from '../../netsim/kernel/index.js';
import { formatSummary, formatTable } from '../../netsim/matrix/index.js';
import { BURROW_ENTRY, REPRESENTATIVE_PAIRS, TRAFFIC_ENTRY, runKernelMatrix } from '../../netsim/kernel/matrix/index.js';
import type { ProfileName } from '../../netsim/kernel/profiles.js';

const skip = kernelLabSkipReason() ?? (!existsSync(BURROW_ENTRY) || !existsSync(TRAFFIC_ENTRY) ? `build first: ${BURROW_ENTRY} missing` : false);
const RUNS = 20;
const PR: ProfileName = 'port-restricted-cone';
const SYM: ProfileName = 'symmetric-random';

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}

test(
  `xtcp on real NATs: port-restricted pair direct ${RUNS}/${RUNS}, symmetric vs port-restricted by birthday >= 95 %, representative subset as expected`,
  { skip, timeout: 600_000 },
  async (t) => {
    const pairs: Array<readonly [ProfileName, ProfileName]> = [
      ...Array.from({ length: RUNS }, () => [PR, PR] as const),
      ...Array.from({ length: RUNS }, (_, i) => (i % 2 === 0 ? ([SYM, PR] as const) : ([PR, SYM] as const))),
      ...REPRESENTATIVE_PAIRS,
    ];
    const run = await runKernelMatrix({
      mode: 'xtcp',
      pairs,
      sizeBytes: 256 * 1024,
      transferTimeoutMs: 30_000,
      onPair: (r, done, total) =>
        t.diagnostic(
          `[${done}/${total}] ${r.provider} -> ${r.visitor}: ${r.path ?? r.outcome}` +
            `${r.directMs !== null ? ` in ${r.directMs} ms` : ''}${r.punchAttempts ? ` after ${r.punchAttempts} failed attempt(s)` : ''}` +
            `${r.asExpected ? '' : ` UNEXPECTED (${(r.error ?? r.punchFailure ?? '').split('\n')[0]})`}`,
        ),
    });
    for (const line of `${formatTable(run)}\n${formatSummary(run)}`.split('\n')) t.diagnostic(line);

    const pr = run.results.slice(0, RUNS);
    const bday = run.results.slice(RUNS, 2 * RUNS);
    const rep = run.results.slice(2 * RUNS);
    for (const r of run.results) {
      assert.ok(r.upVerified && r.downVerified, `${r.provider} -> ${r.visitor}: bytes verified both ways (${r.error ?? ''})`);
    }
    const prDirect = pr.filter((r) => r.outcome === 'direct');
    const times = prDirect.map((r) => r.directMs!).filter((v) => v !== null);
    t.diagnostic(`port-restricted pair: ${prDirect.length}/${RUNS} direct; time to direct p50 ${percentile(times, 50)} ms, p95 ${percentile(times, 95)} ms`);
    assert.equal(prDirect.length, RUNS, 'port-restricted <-> port-restricted goes direct every time');

    const bdayDirect = bday.filter((r) => r.outcome === 'direct');
    const btimes = bdayDirect.map((r) => r.directMs!).filter((v) => v !== null);
    t.diagnostic(`symmetric vs port-restricted: ${bdayDirect.length}/${RUNS} direct; p50 ${percentile(btimes, 50)} ms, p95 ${percentile(btimes, 95)} ms`);
    assert.ok(bdayDirect.length >= Math.ceil(RUNS * 0.95), `birthday probing went direct in ${bdayDirect.length}/${RUNS}`);
    assert.ok(bday.every((r) => r.outcome === 'direct' || r.outcome === 'relay'));

    for (const r of rep) assert.ok(r.asExpected, `${r.provider} -> ${r.visitor}: expected ${r.expected}, got ${r.outcome} (${(r.error ?? r.punchFailure ?? '').split('\n')[0]})`);
    assert.deepEqual(run.leftNamespaces, []);
    assert.deepEqual((await listNamespaces()).filter((n) => n.includes(run.runId)), []);
  },
);

test('two peers in one LAN behind a NAT without hairpinning (and one with it) go direct over the LAN', { skip, timeout: 180_000 }, async (t) => {
  const run = await runKernelMatrix({
    mode: 'xtcp',
    sameSite: true,
    pairs: [
      ['no-hairpin', 'no-hairpin'],
      ['hairpin', 'hairpin'],
    ],
    sizeBytes: 1024 * 1024,
  });
  for (const line of formatSummary(run).split('\n')) t.diagnostic(line);
  for (const r of run.results) {
    assert.equal(r.providerSite, r.visitorSite, 'both peers in one site');
    assert.equal(r.path, 'direct LAN', `${r.provider}: ${r.path} (${r.punchFailure ?? r.error ?? ''})`);
    assert.ok(r.upVerified && r.downVerified);
  }
});
