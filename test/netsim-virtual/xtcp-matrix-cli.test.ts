/**
 * `burrow netsim matrix --lane virtual --mode xtcp`: the direct column's
 * table (time to direct in the cells) and summary, exit 0; a bad --mode is
 * refused before anything runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { netsimCli as netsim } from '../support/netsim-cli.js';

test('netsim matrix --lane virtual --mode xtcp prints the direct table (time to direct) and the summary, exit 0', async () => {
  const r = await netsim(['matrix', '--lane', 'virtual', '--mode', 'xtcp', '--profiles', 'port-restricted-cone,symmetric-random,udp-blocked', '--size', '0.25']);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.split('\n');
  assert.match(lines[0]!, /^direct \(xtcp\) matrix, in-process lane \(seed 1\): 0\.25 MiB each way per pair, SHA-256 checked both ways$/);
  assert.match(lines[1]!, /time from session up to the direct path/);
  assert.match(r.out, /provider ↓ {2}visitor → port-r {6}sym-rnd {5}udp-blk/);
  assert.match(r.out, /\nport-restricted-cone {2}direct \d+\.\ds direct \d+\.\ds relay \d+\.\ds\n/);
  assert.match(r.out, /\nsymmetric-random {6}(direct|relay) \d+\.\ds +relay \d+\.\ds {2}relay \d+\.\ds\n/);
  assert.match(r.out, /\nudp-blocked {11}relay \d+\.\ds {2}relay \d+\.\ds {2}relay \d+\.\ds\n/);
  assert.match(r.out, /9 pairs: 9 as expected, 0 contradict the expected table \(netsim\/matrix\/expected\.ts, direct column/);
  assert.match(r.out, /direct: \d of 9 pairs; virtual time from session up to direct, by expected class: direct 1\/1 \(p50 \d+ ms/);
  assert.match(r.err, /in-process lane, xtcp: 9 pairs/);
  assert.match(r.err, /port-restricted-cone -> port-restricted-cone: direct \d+\.\ds \(virtual: set-up \d+ ms, direct after \d+ ms/);
});

test('netsim matrix --mode xtcp --json carries the direct column per pair', async () => {
  const r = await netsim(['matrix', '--lane', 'virtual', '--mode', 'xtcp', '--profiles', 'symmetric-sequential', '--size', '0.1', '--json']);
  assert.equal(r.code, 0, r.err);
  const run = JSON.parse(r.out) as { mode: string; results: Array<{ expected: string; outcome: string; directMs: number | null; punchFailure?: string }> };
  assert.equal(run.mode, 'xtcp');
  assert.equal(run.results.length, 1);
  // Two sequential NATs: burrow's plan cannot meet them (expected.ts says why).
  assert.equal(run.results[0]!.expected, 'relay');
  assert.equal(run.results[0]!.outcome, 'relay');
  assert.equal(run.results[0]!.directMs, null);
  assert.match(run.results[0]!.punchFailure ?? '', /no authenticated answer/);
});

test('netsim matrix refuses an unknown --mode (status 1, nothing run); the help explains the direct column', async () => {
  const bad = await netsim(['matrix', '--lane', 'virtual', '--mode', 'tcp']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /--mode/);
  assert.equal(bad.out, '');
  const help = await netsim(['matrix', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /--mode <mode>/);
  assert.match(help.out, /time from the visitor's session up to the direct path/);
  const top = await netsim(['--help']);
  assert.match(top.out, /--mode xtcp: the direct column, reasoned from RFC 4787/);
  assert.match(top.out, /"birthday"/);
});
