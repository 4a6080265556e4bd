/**
 * The TTL-priming question on real kernel NATs (netsim/experiments/ttl-priming.ts,
 * a short version of the by-hand run): two plain-masquerade sites, node:dgram
 * programs only. Priming on a common signal beats a 300 ms probing skew; a
 * side that primes 300 ms late still clashes, as does plain probing with a
 * 300 ms skew. Case d (no priming, no skew) depends on sub-millisecond process
 * timing, so it is measured by hand, not asserted here.
 * Needs root and nftables/conntrack/iproute2/stun-client/stun-server; skipped otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelLabSkipReason } from '../../netsim/kernel/index.js';
import { CASES, buildPrimingLab, runPrimingCase, type RunOutcome } from '../../netsim/experiments/ttl-priming.js';

const skip = kernelLabSkipReason();

test('TTL-2 priming on the kernel lane: cases a (ok), b and c (clash), two runs each, either side late', { skip: skip ?? false, timeout: 120_000 }, async (t) => {
  const p = await buildPrimingLab();
  try {
    const results: RunOutcome[] = [];
    for (const run of [0, 1]) {
      for (const c of CASES.filter((x) => x.id !== 'd')) {
        // A loaded machine (npm test runs two files at once) can start a process late; a run whose
        // schedule slipped by 100 ms or more is not the case it claims to be: run it again (at most 3 times).
        let r = await runPrimingCase(p, c, run);
        for (let again = 0; again < 2 && r.maxLagMs >= 100; again++) r = await runPrimingCase(p, c, run);
        assert.ok(r.maxLagMs < 100, `case ${c.id} run ${run}: the schedule slipped by ${r.maxLagMs} ms three times`);
        results.push(r);
        t.diagnostic(
          `case ${r.caseId} run ${run}: ${r.ok ? 'ok' : 'failed'}; ` +
            r.sides.map((s) => `${s.name}(${s.role}) heard ${s.fromOriginal} probes, public port ${s.outboundPublicPort ?? '-'} for local ${s.localPort}${s.inboundUnreplied ? ', unreplied inbound entry' : ''}`).join('; '),
        );
      }
    }
    for (const r of results) {
      const where = `case ${r.caseId} run ${r.run}`;
      for (const s of r.sides) assert.equal(s.mapped?.endsWith(`:${s.localPort}`), true, `${where}: masquerade preserved ${s.name}'s port at registration`);
      const late = r.sides.find((s) => s.role === 'late')!;
      const early = r.sides.find((s) => s.role === 'early')!;
      if (r.caseId === 'a') {
        assert.ok(r.ok, `${where}: both heard the other on the original mapping`);
        assert.equal(late.outboundPublicPort, late.localPort, `${where}: no clash`);
        assert.equal(early.outboundPublicPort, early.localPort, `${where}: no clash`);
      } else {
        assert.equal(late.fromOriginal + early.fromOriginal, 0, `${where}: nobody heard the other`);
        // conntrack shows the clash: the early probe left an UNREPLIED entry at the late side's NAT,
        // and masquerade moved the late side's flow to another public port.
        assert.ok(late.inboundUnreplied, `${where}: unreplied inbound entry at the late side's NAT`);
        assert.notEqual(late.outboundPublicPort, late.localPort, `${where}: the late side's flow clashed onto another port`);
        assert.equal(early.outboundPublicPort, early.localPort, `${where}: the early side kept its port`);
      }
    }
  } finally {
    await p.lab.close();
  }
});
