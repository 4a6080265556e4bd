import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaseMachine, type LeaseOutput } from '../../rendezvous/cluster/lease.js';

const T = { leaseTtlMs: 6000, leaseRefreshMs: 2000, leaseRetryMs: 1000 };

/** Runs the machine's due work at `now` and returns what it asked for. */
function tick(m: LeaseMachine, now: number): LeaseOutput[] {
  m.handleTimeout(now);
  return m.takeOutputs();
}

describe('LeaseMachine (fake clock)', () => {
  it('renews at once, is held after the first answer, then renews every refresh period from the send', () => {
    const m = new LeaseMachine(T, 0);
    assert.equal(m.nextDeadline(), 0);
    assert.deepEqual(tick(m, 0), [{ kind: 'renew', sentAt: 0 }]);
    assert.deepEqual(tick(m, 50), [], 'one renew in flight at a time');
    m.renewed('created', 0, 30);
    assert.deepEqual(m.takeOutputs(), [{ kind: 'acquired' }]);
    assert.equal(m.status(30).held, true);
    assert.equal(m.nextDeadline(), 2000);
    assert.deepEqual(tick(m, 1999), []);
    assert.deepEqual(tick(m, 2000), [{ kind: 'renew', sentAt: 2000 }]);
    m.renewed('extended', 2000, 2010);
    assert.deepEqual(m.takeOutputs(), [], 'a routine renew says nothing');
    assert.equal(m.status(2500).ageMs, 500, 'age counts from the confirmed send');
  });

  it('a renew that had to create the key while held: lost (gone), then acquired again, so claims are made again', () => {
    const m = new LeaseMachine(T, 0);
    tick(m, 0);
    m.renewed('created', 0, 1);
    m.takeOutputs();
    tick(m, 2000);
    m.renewed('created', 2000, 2001);
    assert.deepEqual(m.takeOutputs(), [{ kind: 'lost', reason: 'gone' }, { kind: 'acquired' }]);
    assert.equal(m.status(2001).losses, 1);
  });

  it('another value holding the key: lost (taken), retried after the retry delay, acquired once it is free', () => {
    const m = new LeaseMachine(T, 0);
    tick(m, 0);
    m.renewed('extended', 0, 1);
    m.takeOutputs();
    tick(m, 2000);
    m.renewed('taken', 2000, 2005);
    assert.deepEqual(m.takeOutputs(), [{ kind: 'lost', reason: 'taken' }]);
    assert.equal(m.status(2005).held, false);
    assert.equal(m.nextDeadline(), 3005);
    assert.deepEqual(tick(m, 3005), [{ kind: 'renew', sentAt: 3005 }]);
    m.renewed('taken', 3005, 3006);
    assert.deepEqual(m.takeOutputs(), [], 'still taken: no second loss');
    tick(m, 4006);
    m.renewed('created', 4006, 4007);
    assert.deepEqual(m.takeOutputs(), [{ kind: 'acquired' }]);
  });

  it('Redis silent: the lease counts as expired a TTL after the last confirmed send, not later', () => {
    const m = new LeaseMachine(T, 0);
    tick(m, 0);
    m.renewed('extended', 0, 100);
    m.takeOutputs();
    let now = 2000;
    for (; now < 6000; now += 1000) {
      const out = tick(m, now);
      for (const o of out) if (o.kind === 'renew') m.renewed('error', o.sentAt, now);
      assert.ok(out.every((o) => o.kind === 'renew'), `no event before expiry at ${now}`);
    }
    assert.equal(m.nextDeadline(), 6000);
    const out = tick(m, 6000);
    assert.deepEqual(out.filter((o) => o.kind !== 'renew'), [{ kind: 'lost', reason: 'expired' }]);
    assert.equal(m.status(6000).held, false);
  });

  it('an answer that arrives more than a TTL after its send confirms nothing', () => {
    const m = new LeaseMachine(T, 0);
    tick(m, 0);
    m.renewed('extended', 0, 7000);
    assert.deepEqual(m.takeOutputs(), []);
    assert.equal(m.status(7000).held, false);
    assert.deepEqual(tick(m, 7000), [{ kind: 'renew', sentAt: 7000 }], 'renews again at once');
  });

  it('after a local expiry, a renew that finds our value still there re-acquires (and claims are made again)', () => {
    const m = new LeaseMachine(T, 0);
    tick(m, 0);
    m.renewed('extended', 0, 1);
    m.takeOutputs();
    tick(m, 2000);
    assert.deepEqual(tick(m, 6000), [{ kind: 'lost', reason: 'expired' }]);
    m.renewed('extended', 5990, 6010);
    assert.deepEqual(m.takeOutputs(), [{ kind: 'acquired' }]);
  });

  it('renewSoon pulls the next renew forward (Redis reconnected); close stops everything', () => {
    const m = new LeaseMachine(T, 0);
    tick(m, 0);
    m.renewed('extended', 0, 1);
    m.takeOutputs();
    m.renewSoon(500);
    assert.deepEqual(tick(m, 500), [{ kind: 'renew', sentAt: 500 }]);
    m.close();
    m.renewed('created', 500, 501);
    assert.deepEqual(m.takeOutputs(), []);
    assert.equal(m.nextDeadline(), null);
    assert.deepEqual(tick(m, 10_000), []);
  });
});
