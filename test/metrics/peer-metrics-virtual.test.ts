/**
 * The peers' path deaths and re-punches as metrics: in the in-process NAT
 * lab, a NAT's table is flushed under a transfer on the direct path; both
 * peers lose the path, fall back to the relay and punch again. Their
 * registries must count exactly that.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SCENARIOS } from '../../netsim/scenarios/spec.js';
import { MIB, startDirect, transferWithHook } from '../../netsim/virtual/scenarios/common.js';
import { peerRegistry } from '../../peer/metrics.js';
import { parseScrape, promtoolCheck, promtoolMissing, total } from './scrape.js';

test('a NAT flush under a direct transfer: a path death, a re-punch and a second direct punch on each peer', { timeout: 120_000 }, async () => {
  const profile = SCENARIOS['conntrack-flush'].topology.provider;
  const { lab } = await startDirect({ provider: profile, visitor: profile, seed: 7, upBytes: 2 * MIB, downBytes: 2 * MIB });
  try {
    const registries = { visitor: peerRegistry('visitor', [lab.visitor]), provider: peerRegistry('provider', [lab.provider]) };
    const before = parseScrape(await registries.visitor.metrics());
    assert.equal(total(before, 'burrow_visitor_path_deaths_total'), 0);
    assert.equal(total(before, 'burrow_visitor_sessions', { path: /^direct_/ }), 1);
    const nat = lab.topo.site('a').nat;
    assert.ok(nat !== null);
    const t = await transferWithHook(lab, { atFraction: 0.3, limitMs: 600_000, hook: () => void nat.flush() });
    assert.ok(t.hookAt !== null, 'the flush happened');
    // The transfer may end on the relay: run the clock until both are direct again.
    const backUp = () => lab.log('visitor', 'direct-up').length >= 2 && lab.log('provider', 'direct-up').length >= 2;
    await lab.scheduler.runUntil(backUp, { maxTime: lab.now + 30_000 });
    assert.ok(backUp(), 'both peers punched a direct path again');
    for (const role of ['visitor', 'provider'] as const) {
      const text = await registries[role].metrics();
      const s = parseScrape(text);
      const m = (what: string) => `burrow_${role}_${what}`;
      assert.ok((total(s, m('path_deaths_total')) ?? 0) >= 1, `${role}: path death counted`);
      assert.ok((total(s, m('repunches_total')) ?? 0) >= 1, `${role}: re-punch counted\n${text}`);
      assert.ok((total(s, m('punches_total'), { outcome: 'direct' }) ?? 0) >= 2, `${role}: the first punch and the one after the flush`);
      assert.equal(total(s, m('sessions_opened_total')), 1, `${role}: the same session all along`);
      assert.ok((total(s, m('bytes_total'), { direction: role === 'visitor' ? 'received' : 'sent' }) ?? 0) >= 2 * MIB);
      if (promtoolMissing() === null) assert.equal(promtoolCheck(text).output.trim(), '');
    }
  } finally {
    await lab.teardown();
  }
});
