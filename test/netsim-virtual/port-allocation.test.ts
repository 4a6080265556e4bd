import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from '../../netsim/random.js';
import { NatTable, type NatOptions } from '../../netsim/virtual/index.js';

const APDM: NatOptions = { mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent' };
const remote = (i: number) => ({ address: `198.51.100.${2 + (i % 200)}`, port: 1000 + i });
const port = (d: ReturnType<NatTable['outbound']>): number => {
  assert.ok(d.ok, JSON.stringify(d));
  return d.externalPort;
};

describe('port allocation', () => {
  it('preserving keeps the inside port when free and falls back when it is taken', () => {
    const nat = new NatTable({ mapping: 'endpoint-independent', filtering: 'address-and-port-dependent' }, new SeededRandom(1));
    const a = port(nat.outbound({ address: '10.1.0.2', port: 5000 }, remote(0), 0));
    assert.equal(a, 5000);
    const d = nat.outbound({ address: '10.1.0.3', port: 5000 }, remote(0), 0);
    assert.ok(d.ok && d.how === 'new' && d.preserved === false);
    assert.notEqual(d.externalPort, 5000);
    assert.ok(d.externalPort >= 1024 && d.externalPort <= 65535);
    // Once the first mapping expires, the port is free again.
    const later = nat.outbound({ address: '10.1.0.4', port: 5000 }, remote(1), 31_000);
    assert.ok(later.ok && later.externalPort === 5000);
  });

  it('sequential hands out ports with the configured step, skipping taken ones and wrapping', () => {
    const nat = new NatTable(
      { ...APDM, portAllocation: 'sequential', portStep: 2, firstPort: 20000, portRange: { min: 20000, max: 20009 } },
      new SeededRandom(1),
    );
    const ports = [0, 1, 2].map((i) => port(nat.outbound({ address: '10.1.0.2', port: 5000 }, remote(i), 0)));
    assert.deepEqual(ports, [20000, 20002, 20004]);
    const more = [3, 4, 5].map((i) => port(nat.outbound({ address: '10.1.0.2', port: 5000 }, remote(i), 0)));
    // 20006, 20008, then wraps to 20000 (taken) -> 20002 (taken) -> ... -> next free on the odd ports.
    assert.deepEqual(more.slice(0, 2), [20006, 20008]);
    assert.equal(more[2]! % 2, 1);
  });

  it('sequential with a seeded start: consecutive flows differ by exactly the step', () => {
    const nat = new NatTable({ ...APDM, portAllocation: 'sequential', portStep: 3 }, new SeededRandom(8));
    const ports = [0, 1, 2, 3].map((i) => port(nat.outbound({ address: '10.1.0.2', port: 5000 }, remote(i), 0)));
    for (let i = 1; i < ports.length; i++) {
      const diff = (ports[i]! - ports[i - 1]! + 64512) % 64512;
      assert.equal(diff, 3);
    }
  });

  it('random covers the range, seeded: same seed same ports, another seed other ports', () => {
    const run = (seed: number) => {
      const nat = new NatTable({ ...APDM, portAllocation: 'random', portRange: { min: 40000, max: 40999 } }, new SeededRandom(seed));
      return Array.from({ length: 600 }, (_, i) => port(nat.outbound({ address: '10.1.0.2', port: 5000 }, remote(i), 0)));
    };
    const a = run(1);
    assert.deepEqual(run(1), a);
    assert.notDeepEqual(run(2), a);
    assert.equal(new Set(a).size, 600, 'no port handed out twice while live');
    const buckets = new Array(10).fill(0);
    for (const p of a) {
      assert.ok(p >= 40000 && p <= 40999);
      buckets[Math.floor((p - 40000) / 100)]++;
    }
    for (const b of buckets) assert.ok(b >= 40 && b <= 80, `bucket ${b}`);
  });

  it('a full range refuses new mappings until one expires', () => {
    const nat = new NatTable({ ...APDM, portAllocation: 'random', portRange: { min: 40000, max: 40003 } }, new SeededRandom(1));
    for (let i = 0; i < 4; i++) port(nat.outbound({ address: '10.1.0.2', port: 5000 }, remote(i), 0));
    const d = nat.outbound({ address: '10.1.0.2', port: 5000 }, remote(9), 0);
    assert.deepEqual(d, { ok: false, reason: 'nat-ports-exhausted' });
  });

  it('the mapping table bound refuses new mappings beyond maxMappings', () => {
    const nat = new NatTable({ ...APDM, maxMappings: 3 }, new SeededRandom(1));
    for (let i = 0; i < 3; i++) port(nat.outbound({ address: '10.1.0.2', port: 5000 + i }, remote(i), 0));
    assert.deepEqual(nat.outbound({ address: '10.1.0.2', port: 6000 }, remote(5), 1000), { ok: false, reason: 'nat-table-full' });
    // Existing flows still work; after expiry there is room again.
    assert.equal(port(nat.outbound({ address: '10.1.0.2', port: 5000 }, remote(0), 1000)), 5000);
    assert.ok(nat.outbound({ address: '10.1.0.2', port: 6000 }, remote(5), 30_500).ok);
    assert.equal(nat.stats.refused, 1);
  });
});
