import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatClaim, formatLease, parseClaim, parseLease } from '../../rendezvous/cluster/lease-value.js';
import { LookupCache } from '../../rendezvous/cluster/lookup-cache.js';
import { ClusterSecret } from '../../rendezvous/cluster/secret.js';
import { CLUSTER_TIMERS, checkTimers } from '../../rendezvous/cluster/timers.js';

const secret = new ClusterSecret('values-test-secret-012345');
const inc = '0123456789abcdef01234567';

describe('lease and claim values', () => {
  it('a lease reads back only for its node and with the secret', () => {
    const raw = formatLease(secret, { node: 'n1', incarnation: inc, advertise: '[2001:db8::1]:7000' });
    assert.match(raw, new RegExp(`^${inc} `), 'Lua reads the incarnation as the first word');
    assert.deepEqual(parseLease(secret, 'n1', raw), { node: 'n1', incarnation: inc, advertise: '[2001:db8::1]:7000' });
    assert.equal(parseLease(secret, 'n2', raw), null, 'copied under another node id');
    assert.equal(parseLease(new ClusterSecret('other-secret-0123456789'), 'n1', raw), null);
    assert.equal(parseLease(secret, 'n1', raw.replace('7000', '7001')), null, 'advertise changed');
    for (const bad of ['', 'x', `${inc} a`, `${inc} a b c`, 'z'.repeat(600)]) assert.equal(parseLease(secret, 'n1', bad), null);
  });

  it('a claim reads back only for its name and with the secret', () => {
    const raw = formatClaim(secret, 'nas', 'n1', inc);
    assert.match(raw, new RegExp(`^n1 ${inc} `), 'Lua reads node and incarnation as the first two words');
    assert.deepEqual(parseClaim(secret, 'nas', raw), { node: 'n1', incarnation: inc });
    assert.equal(parseClaim(secret, 'web', raw), null, 'copied to another name');
    assert.equal(parseClaim(secret, 'nas', raw.replace('n1', 'n2')), null, 'pointed at another node');
  });

  it('rejects secrets that are too short', () => {
    assert.throws(() => new ClusterSecret('short'), { code: 'ERR_CONFIG' });
  });
});

describe('LookupCache', () => {
  const loc = (node: string) => ({ node, incarnation: inc, advertise: 'h:1' });

  it('keeps an answer lookupCacheMs, and forgets a name or a whole node on demand', () => {
    const c = new LookupCache({ lookupCacheMs: 1000 });
    c.put('a', loc('n1'), 0);
    c.put('b', loc('n1'), 0);
    c.put('c', loc('n2'), 0);
    assert.deepEqual(c.get('a', 999), loc('n1'));
    assert.equal(c.get('a', 1000), null);
    c.forgetNode('n1');
    assert.equal(c.get('b', 1), null);
    assert.deepEqual(c.get('c', 1), loc('n2'));
    c.forget('c');
    assert.equal(c.size, 0);
  });

  it('is bounded: the oldest entry goes first', () => {
    const c = new LookupCache({ lookupCacheMs: 1000 }, 2);
    c.put('a', loc('n1'), 0);
    c.put('b', loc('n1'), 0);
    c.put('c', loc('n1'), 0);
    assert.equal(c.size, 2);
    assert.equal(c.get('a', 1), null);
    assert.notEqual(c.get('c', 1), null);
  });
});

describe('CLUSTER_TIMERS', () => {
  it('the defaults pass the checks; tables that cannot work are refused', () => {
    assert.equal(checkTimers({ ...CLUSTER_TIMERS }).leaseTtlMs, CLUSTER_TIMERS.leaseTtlMs);
    assert.equal(CLUSTER_TIMERS.leaseRefreshMs * 3, CLUSTER_TIMERS.leaseTtlMs, 'refresh every ttl/3');
    for (const bad of [{ leaseRefreshMs: 4000 }, { redisCommandTimeoutMs: 2000 }, { claimTtlMs: 10_000 }, { lookupCacheMs: -1 }, { leaseTtlMs: Number.NaN }]) {
      assert.throws(() => checkTimers({ ...CLUSTER_TIMERS, ...bad }), { code: 'ERR_CONFIG' }, JSON.stringify(bad));
    }
  });
});
