/**
 * `burrow netsim scenarios --lane virtual`: runs the spec's scenarios in
 * process without root; one the lane cannot run is reported as not
 * applicable with the spec's reason (and does not fail the run); an unknown
 * scenario is refused before anything runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { netsimCli } from '../support/netsim-cli.js';
import { notApplicable } from '../../netsim/scenarios/spec.js';

test('netsim scenarios --lane virtual: same-site runs as required in xtcp, idle-tcp is not applicable with the spec\'s reason; exit 0', async () => {
  const r = await netsimCli(['scenarios', '--lane', 'virtual', '--mode', 'xtcp', '--only', 'same-site,idle-tcp']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^\[virtual xtcp\] same-site: as required \(/m);
  assert.match(r.out, /required: the session runs "direct LAN"/);
  assert.ok(r.out.includes(`[virtual xtcp] idle-tcp: not applicable in this lane: ${notApplicable('idle-tcp', 'virtual', 'xtcp')}`), r.out);
});

test('netsim scenarios --lane virtual --json is one document with a report per scenario and mode', async () => {
  const r = await netsimCli(['scenarios', '--lane', 'virtual', '--mode', 'both', '--only', 'same-site', '--size', '1', '--json']);
  assert.equal(r.code, 0, r.err);
  const doc = JSON.parse(r.out) as { lane: string; reports: Array<{ name: string; mode: string; notApplicable?: string; verdict?: { ok: boolean } }> };
  assert.equal(doc.lane, 'virtual');
  assert.deepEqual(doc.reports.map((x) => `${x.name}/${x.mode}`), ['same-site/stcp', 'same-site/xtcp']);
  assert.equal(typeof doc.reports[0]!.notApplicable, 'string');
  assert.equal(doc.reports[1]!.verdict?.ok, true);
});

test('netsim scenarios refuses an unknown scenario and a bad --lane, exit 2', async () => {
  const a = await netsimCli(['scenarios', '--lane', 'virtual', '--only', 'same-site,bogus']);
  assert.equal(a.code, 2);
  assert.match(a.err, /--only: unknown scenario bogus; known: spray, probe-replay/);
  const b = await netsimCli(['scenarios', '--lane', 'moon']);
  assert.equal(b.code, 2);
  assert.match(b.err, /--lane.*moon/);
});
