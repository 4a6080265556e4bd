/** The IPv6 site firewall's table on its own (sans-I/O): flows, endpoint-dependent filtering, lifetimes, its bound. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ipv6Firewall } from '../../netsim/virtual/index.js';

const IN = { address: '2001:db8:1::2', port: 40000 };
const R1 = { address: '2001:db8:ffff::1', port: 7000 };
const R2 = { address: '2001:db8:ffff::1', port: 7001 };
const R3 = { address: '2001:db8:ffff::2', port: 7000 };

describe('Ipv6Firewall', () => {
  it('admits inbound only on a flow the inside endpoint opened to exactly that remote endpoint', () => {
    const fw = new Ipv6Firewall();
    assert.deepEqual(fw.inbound(R1, IN, 0), { ok: false, reason: 'fw-filtered' });
    assert.deepEqual(fw.outbound(IN, R1, 1), { ok: true, how: 'new' });
    assert.deepEqual(fw.outbound(IN, R1, 2), { ok: true, how: 'flow' });
    assert.deepEqual(fw.inbound(R1, IN, 3), { ok: true });
    assert.equal(fw.inbound(R2, IN, 3).ok, false, 'another port of the same address');
    assert.equal(fw.inbound(R3, IN, 3).ok, false, 'another address');
    assert.equal(fw.inbound(R1, { ...IN, port: 40001 }, 3).ok, false, 'another inside port');
    assert.deepEqual(fw.stats, { opened: 1, expired: 0, filtered: 4, refused: 0 });
    assert.deepEqual(
      fw.drainEvents().map((e) => e.what),
      ['pinhole-opened'],
    );
  });

  it('a flow lives unrepliedTimeoutMs after its last packet until a reply, then streamTimeoutMs', () => {
    const fw = new Ipv6Firewall({ unrepliedTimeoutMs: 1000, streamTimeoutMs: 5000 });
    fw.outbound(IN, R1, 0);
    assert.equal(fw.pinholes(999).length, 1);
    assert.equal(fw.pinholes(1000).length, 0);
    assert.equal(fw.inbound(R1, IN, 1000).ok, false);
    fw.outbound(IN, R1, 2000);
    assert.equal(fw.inbound(R1, IN, 2500).ok, true);
    assert.equal(fw.pinholes(7499)[0]?.twoWay, true);
    assert.equal(fw.inbound(R1, IN, 7499).ok, true, 'inbound refreshes too');
    assert.equal(fw.pinholes(12_498).length, 1);
    assert.equal(fw.inbound(R1, IN, 12_499).ok, false);
    assert.deepEqual(
      fw.drainEvents().map((e) => e.what),
      ['pinhole-opened', 'pinhole-expired', 'pinhole-opened', 'pinhole-expired'],
    );
  });

  it('is bounded: a new flow beyond maxFlows is refused while the others live; room comes back as they expire', () => {
    const fw = new Ipv6Firewall({ maxFlows: 2, unrepliedTimeoutMs: 1000 });
    assert.equal(fw.outbound(IN, R1, 0).ok, true);
    assert.equal(fw.outbound(IN, R2, 0).ok, true);
    assert.deepEqual(fw.outbound(IN, R3, 10), { ok: false, reason: 'fw-table-full' });
    assert.equal(fw.outbound(IN, R1, 10).ok, true, 'an existing flow still passes');
    assert.equal(fw.inbound(R3, IN, 20).ok, false);
    assert.equal(fw.outbound(IN, R3, 1005).ok, true, 'R2 expired at 1000');
    assert.equal(fw.stats.refused, 1);
    assert.throws(() => new Ipv6Firewall({ maxFlows: 0 }), /table size/);
  });

  it('flush forgets every flow (conntrack -F)', () => {
    const fw = new Ipv6Firewall();
    fw.outbound(IN, R1, 0);
    fw.outbound(IN, R2, 0);
    assert.equal(fw.flush(), 2);
    assert.equal(fw.inbound(R1, IN, 1).ok, false);
  });
});
