/**
 * `burrow nat` and the sessions must agree on which NATs are predictable:
 * the report's "sequential" is what makes a session probe predicted ports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_SEQUENTIAL_PORT_STEP, isSequentialStep, portResult } from '../../src/nat/index.js';
import type { PortSample } from '../../src/nat/index.js';

/** Four fresh sockets whose public ports step by `step` (local ports differ, so not preserving). */
function samples(step: number, base = 30000): PortSample[] {
  return [0, 1, 2, 3].map((i) => ({ local: 50000 + i * 7, mapped: base + i * step }));
}

test('a step the punch can follow is reported sequential; one just past it is reported random', () => {
  const at = portResult(samples(MAX_SEQUENTIAL_PORT_STEP), false, []);
  assert.equal(at.kind, 'sequential');
  assert.equal(at.step, MAX_SEQUENTIAL_PORT_STEP);
  const past = portResult(samples(MAX_SEQUENTIAL_PORT_STEP + 1), false, []);
  assert.equal(past.kind, 'random');
  assert.match(past.explanation, /cannot be predicted/);
});

test('a NAT stepping by 32 (that sessions punch as random) is not called predictable', () => {
  assert.equal(isSequentialStep(32), false);
  assert.equal(portResult(samples(32), false, []).kind, 'random');
  assert.equal(portResult(samples(-32, 40000), false, []).kind, 'random');
});

test('burrow nat says sequential exactly when the session check would (any steady step)', () => {
  fc.assert(
    fc.property(fc.integer({ min: -200, max: 200 }).filter((s) => s !== 0), (step) => {
      const kind = portResult(samples(step, 30000), false, []).kind;
      assert.equal(kind === 'sequential', isSequentialStep(step), `step ${step}`);
    }),
    { numRuns: 400 },
  );
});
