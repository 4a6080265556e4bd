/**
 * The scenarios are written once (netsim/scenarios/spec.ts) and run by both
 * lanes: every scenario runs in a lane and mode or the spec says why not;
 * the kernel runner covers what the spec gives it; the in-process runner
 * runs each spec that applies to it and holds it to the spec's expectation,
 * and reports the others as not applicable, with the reason. Small
 * transfers (the 64 MiB mid-transfer runs are xtcp-scenarios.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SCENARIOS, SCENARIO_NAMES, notApplicable, scenariosFor, type ScenarioMode } from '../../netsim/scenarios/spec.js';
import { formatReport, isNotApplicable } from '../../netsim/scenarios/outcome.js';
import { SCENARIO_NAMES as KERNEL_RUNS } from '../../netsim/kernel/scenarios/suite.js';
import { runVirtualScenario } from '../../netsim/virtual/scenarios/suite.js';

const MODES: readonly ScenarioMode[] = ['stcp', 'xtcp'];

test('every scenario runs in some lane for xtcp, and every not-applicable entry gives a reason', () => {
  for (const name of SCENARIO_NAMES) {
    assert.equal(SCENARIOS[name].name, name);
    assert.ok(scenariosFor('kernel', 'xtcp').includes(name) || scenariosFor('virtual', 'xtcp').includes(name), `${name} runs nowhere`);
    for (const lane of ['kernel', 'virtual'] as const) {
      for (const mode of MODES) {
        const why = notApplicable(name, lane, mode);
        if (why !== undefined) assert.ok(why.length > 20, `${name} ${lane} ${mode}: a reason, not a word`);
      }
    }
  }
});

test('the kernel runner has a runner for exactly the scenarios the spec gives the kernel lane', () => {
  for (const mode of MODES) assert.deepEqual([...scenariosFor('kernel', mode)].sort(), [...KERNEL_RUNS].sort(), mode);
});

test('in-process lane: each spec runs as required, or is reported not applicable with the spec\'s reason', { timeout: 180_000 }, async (t) => {
  for (const mode of MODES) {
    for (const name of SCENARIO_NAMES) {
      const r = await runVirtualScenario(name, mode, { transferBytes: 8 * 1024 * 1024 });
      for (const l of formatReport(r)) t.diagnostic(l.slice(0, 240));
      assert.equal(r.name, name);
      assert.equal(r.lane, 'virtual');
      assert.equal(r.mode, mode);
      const why = notApplicable(name, 'virtual', mode);
      if (why !== undefined) {
        assert.ok(isNotApplicable(r));
        assert.equal(r.notApplicable, why);
        assert.match(formatReport(r)[0]!, /not applicable in this lane: /);
        continue;
      }
      assert.ok(!isNotApplicable(r));
      assert.deepEqual(r.verdict.failures, [], `${name} (${mode})`);
      assert.equal(r.verdict.expected, SCENARIOS[name].expect[mode].text);
    }
  }
});
