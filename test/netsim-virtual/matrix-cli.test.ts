/**
 * `burrow netsim matrix --lane virtual`: runs in process without root and
 * prints the kernel lane's table layout (virtual times), or JSON; bad
 * arguments are refused before anything runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { netsimCli as netsim } from '../support/netsim-cli.js';

test('netsim matrix --lane virtual prints the table and the summary, exit 0', async () => {
  const r = await netsim(['matrix', '--lane', 'virtual', '--profiles', 'udp-blocked,symmetric-sequential', '--size', '0.25']);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.split('\n');
  assert.match(lines[0]!, /^relay \(stcp\) matrix, in-process lane \(seed 1\): 0\.25 MiB each way per pair, SHA-256 checked both ways$/);
  assert.match(r.out, /provider ↓ {2}visitor → sym-seq {5}udp-blk/);
  assert.match(r.out, /\nsymmetric-sequential {2}relay \d+\.\ds {2}relay \d+\.\ds\n/);
  assert.match(r.out, /\nudp-blocked {11}relay \d+\.\ds {2}relay \d+\.\ds\n/);
  assert.match(r.out, /4 pairs: 4 as expected, 0 contradict the expected table/);
  assert.match(r.err, /\[4\/4\] symmetric-sequential -> symmetric-sequential: relay/);
});

test('netsim matrix --lane virtual --json is the whole run; the same seed gives the same run', async () => {
  const args = ['matrix', '--lane', 'virtual', '--profiles', 'full-cone', '--size', '0.1', '--seed', '9', '--json'];
  const a = await netsim(args);
  const b = await netsim(args);
  assert.equal(a.code, 0, a.err);
  const run = JSON.parse(a.out) as { lane: string; seed: number; results: Array<{ outcome: string; tcpDigest: string; totalMs: number; realMs: number }> };
  assert.equal(run.lane, 'virtual');
  assert.equal(run.seed, 9);
  assert.equal(run.results.length, 1);
  assert.equal(run.results[0]!.outcome, 'relay');
  const other = JSON.parse(b.out) as typeof run;
  const strip = (x: typeof run) => x.results.map(({ realMs: _wall, ...rest }) => rest);
  assert.deepEqual(strip(other), strip(run));
});

test('netsim matrix refuses unknown profiles, a bad size or seed, and an unknown lane (status 1, nothing run)', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--lane', 'virtual', '--profiles', 'full-cone,nope'], /unknown profile nope/],
    [['--lane', 'virtual', '--size', '0'], /--size/],
    [['--lane', 'virtual', '--seed', '-1'], /--seed/],
    [['--lane', 'moon'], /--lane/],
    // symmetric-sequential has no kernel twin.
    [['--lane', 'kernel', '--profiles', 'symmetric-sequential'], /unknown profile symmetric-sequential/],
  ];
  for (const [args, why] of cases) {
    const r = await netsim(['matrix', ...args]);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.err, why, args.join(' '));
    assert.equal(r.out, '', `${args.join(' ')}: no table`);
  }
});
