import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLAIM_BATCH, ClaimBook, parseClaimAnswer } from '../../rendezvous/cluster/claims.js';

const T = { claimRefreshMs: 10_000 };

describe('ClaimBook (fake clock)', () => {
  it('holds what Redis confirmed; a name taken on its first claim is dropped without a loss event', () => {
    const b = new ClaimBook(T, 100);
    assert.equal(b.want(['a', 'b'], 0), true);
    b.claimed(['a', 'b'], [{ kind: 'ok' }, { kind: 'taken', owner: 'n2' }], 'request');
    assert.deepEqual(b.takeOutputs(), []);
    assert.deepEqual(b.stats, { wanted: 1, held: 1 });
    assert.equal(b.isHeld('a'), true);
  });

  it('claims every wanted name again each refresh, in batches; a held name taken meanwhile is reported lost once', () => {
    const b = new ClaimBook(T, 1000);
    const names = Array.from({ length: CLAIM_BATCH + 5 }, (_, i) => `s${i}`);
    b.want(names, 0);
    b.claimed(names, names.map(() => ({ kind: 'ok' as const })), 'request');
    assert.equal(b.nextDeadline(), 10_000);
    b.handleTimeout(9_999);
    assert.deepEqual(b.takeOutputs(), []);
    b.handleTimeout(10_000);
    const out = b.takeOutputs();
    assert.deepEqual(out.map((o) => (o.kind === 'claim' ? o.names.length : -1)), [CLAIM_BATCH, 5]);
    assert.equal(b.nextDeadline(), 20_000);
    b.claimed(['s0', 's1'], [{ kind: 'taken', owner: 'n9' }, { kind: 'error' }], 'refresh');
    assert.deepEqual(b.takeOutputs(), [{ kind: 'lost', name: 's0', owner: 'n9' }]);
    assert.equal(b.isHeld('s1'), true, 'an error changes nothing');
    b.claimed(['s0'], [{ kind: 'taken', owner: 'n9' }], 'refresh');
    assert.deepEqual(b.takeOutputs(), [], 'no second event');
  });

  it('a name whose first claim was not confirmed (no lease yet) and that a refresh then finds taken is reported lost', () => {
    const b = new ClaimBook(T, 10);
    b.want(['z', 'w'], 0);
    b.claimed(['z', 'w'], [{ kind: 'no-lease' }, { kind: 'no-lease' }], 'request');
    b.claimed(['z'], [{ kind: 'taken', owner: 'n3' }], 'refresh');
    assert.deepEqual(b.takeOutputs(), [{ kind: 'lost', name: 'z', owner: 'n3' }]);
    b.claimed(['w'], [{ kind: 'taken', owner: 'n3' }], 'request');
    assert.deepEqual(b.takeOutputs(), [], 'a request\'s caller has the answer: no event');
    assert.deepEqual(b.stats, { wanted: 0, held: 0 });
  });

  it('a name released while its claim was on the way is given back when the claim lands', () => {
    const b = new ClaimBook(T, 10);
    b.want(['x'], 0);
    b.release('x');
    assert.deepEqual(b.takeOutputs(), [{ kind: 'release', name: 'x' }]);
    b.claimed(['x'], [{ kind: 'ok' }], 'request');
    assert.deepEqual(b.takeOutputs(), [{ kind: 'release', name: 'x' }]);
    assert.deepEqual(b.stats, { wanted: 0, held: 0 });
    assert.equal(b.nextDeadline(), null, 'nothing to refresh');
  });

  it('no-lease keeps the name wanted (claimed again when the lease is back); reclaimAll makes it due now', () => {
    const b = new ClaimBook(T, 10);
    b.want(['y'], 0);
    b.claimed(['y'], [{ kind: 'no-lease' }], 'request');
    assert.deepEqual(b.stats, { wanted: 1, held: 0 });
    b.reclaimAll(500);
    b.handleTimeout(500);
    assert.deepEqual(b.takeOutputs(), [{ kind: 'claim', names: ['y'] }]);
  });

  it('refuses to grow past maxClaims, all or nothing; names already wanted do not count twice', () => {
    const b = new ClaimBook(T, 3);
    assert.equal(b.want(['a', 'b'], 0), true);
    assert.equal(b.want(['c', 'd'], 0), false);
    assert.deepEqual(b.stats, { wanted: 2, held: 0 });
    assert.equal(b.want(['a', 'b', 'c'], 0), true);
  });

  it('parses the script answers; anything else is an error, never a throw', () => {
    assert.deepEqual(parseClaimAnswer('ok'), { kind: 'ok' });
    assert.deepEqual(parseClaimAnswer('took-over'), { kind: 'took-over' });
    assert.deepEqual(parseClaimAnswer('taken n2'), { kind: 'taken', owner: 'n2' });
    assert.deepEqual(parseClaimAnswer('no-lease'), { kind: 'no-lease' });
    for (const bad of [null, 1, 'taken', `taken ${'x'.repeat(200)}`, ['ok'], {}]) assert.deepEqual(parseClaimAnswer(bad), { kind: 'error' });
  });
});
