import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ServiceRegistry } from '../../rendezvous/registry.js';

interface Prov {
  id: string;
}
const A: Prov = { id: 'A' };
const B: Prov = { id: 'B' };
const C: Prov = { id: 'C' };

describe('ServiceRegistry', () => {
  it('registers names and looks them up', () => {
    const r = new ServiceRegistry<Prov>();
    assert.deepEqual(r.register(A, ['nas', 'web']), { ok: true });
    assert.equal(r.lookup('nas'), A);
    assert.equal(r.lookup('web'), A);
    assert.equal(r.lookup('other'), undefined);
    assert.equal(r.size, 2);
  });

  it('is all-or-nothing: one taken name refuses the whole request and reports exactly the taken names', () => {
    const r = new ServiceRegistry<Prov>();
    r.register(A, ['nas', 'db']);
    const res = r.register(B, ['web', 'nas', 'git', 'db']);
    assert.equal(res.ok, false);
    assert.deepEqual((res as { taken: string[] }).taken, ['nas', 'db']);
    assert.equal((res as { full?: boolean }).full, undefined);
    assert.equal(r.lookup('web'), undefined, 'the free names were not registered either');
    assert.equal(r.lookup('git'), undefined);
    assert.equal(r.lookup('nas'), A);
    assert.equal(r.size, 2);
  });

  it('lets the same provider register its own names again (and add new ones)', () => {
    const r = new ServiceRegistry<Prov>();
    r.register(A, ['nas']);
    assert.deepEqual(r.register(A, ['nas']), { ok: true });
    assert.deepEqual(r.register(A, ['nas', 'web']), { ok: true });
    assert.equal(r.size, 2);
    assert.equal(r.lookup('web'), A);
  });

  it('tells providers apart by identity, not by value', () => {
    const r = new ServiceRegistry<Prov>();
    r.register({ id: 'same' }, ['nas']);
    const res = r.register({ id: 'same' }, ['nas']);
    assert.equal(res.ok, false);
  });

  it('removeProvider frees exactly that provider\'s names', () => {
    const r = new ServiceRegistry<Prov>();
    r.register(A, ['a1', 'a2']);
    r.register(B, ['b1']);
    assert.deepEqual(r.removeProvider(A).sort(), ['a1', 'a2']);
    assert.equal(r.lookup('a1'), undefined);
    assert.equal(r.lookup('b1'), B);
    assert.equal(r.size, 1);
    assert.deepEqual(r.register(C, ['a1']), { ok: true }, 'a freed name can be taken by someone else');
    assert.deepEqual(r.removeProvider(A), [], 'removing twice is harmless');
  });

  it('is bounded by maxServices, counting only new names', () => {
    const r = new ServiceRegistry<Prov>(3);
    assert.deepEqual(r.register(A, ['a', 'b']), { ok: true });
    assert.deepEqual(r.register(B, ['c', 'd']), { ok: false, taken: [], full: true });
    assert.equal(r.lookup('c'), undefined, 'nothing registered when full');
    assert.equal(r.size, 2);
    assert.deepEqual(r.register(A, ['a', 'b']), { ok: true }, 're-registering own names needs no room');
    assert.deepEqual(r.register(B, ['c']), { ok: true });
    assert.deepEqual(r.register(C, ['x']), { ok: false, taken: [], full: true });
    r.removeProvider(B);
    assert.deepEqual(r.register(C, ['x']), { ok: true });
    assert.equal(r.size, 3);
  });

  it('reports taken names before fullness', () => {
    const r = new ServiceRegistry<Prov>(1);
    r.register(A, ['a']);
    assert.deepEqual(r.register(B, ['a', 'b']), { ok: false, taken: ['a'] });
  });

  it('a name repeated within one request counts once against maxServices', () => {
    // Regression: `fresh` used to count duplicates, so a request repeating a
    // name (the "register" schema allows duplicates) was refused as "full".
    const r = new ServiceRegistry<Prov>(1);
    assert.deepEqual(r.register(A, ['nas', 'nas']), { ok: true });
    assert.equal(r.size, 1);
  });

  it('property: matches a simple model under random register/remove sequences', () => {
    const provs = [A, B, C];
    const op = fc.oneof(
      fc.record({ kind: fc.constant('register' as const), p: fc.integer({ min: 0, max: 2 }), names: fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), { maxLength: 4 }) }),
      fc.record({ kind: fc.constant('remove' as const), p: fc.integer({ min: 0, max: 2 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 }), fc.array(op, { maxLength: 40 }), (max, ops) => {
        const r = new ServiceRegistry<Prov>(max);
        const model = new Map<string, Prov>();
        for (const o of ops) {
          const p = provs[o.p]!;
          if (o.kind === 'remove') {
            const expected = [...model].filter(([, q]) => q === p).map(([n]) => n);
            assert.deepEqual(r.removeProvider(p).sort(), expected.sort());
            for (const n of expected) model.delete(n);
          } else {
            const taken = o.names.filter((n) => model.has(n) && model.get(n) !== p);
            const fresh = o.names.filter((n) => !model.has(n));
            const res = r.register(p, o.names);
            if (taken.length > 0) assert.deepEqual(res, { ok: false, taken });
            else if (model.size + fresh.length > max) assert.deepEqual(res, { ok: false, taken: [], full: true });
            else {
              assert.deepEqual(res, { ok: true });
              for (const n of o.names) model.set(n, p);
            }
          }
          assert.equal(r.size, model.size);
          assert.ok(r.size <= max);
          for (const n of ['a', 'b', 'c', 'd', 'e', 'f']) assert.equal(r.lookup(n), model.get(n));
        }
      }),
      { numRuns: 300 },
    );
  });
});
