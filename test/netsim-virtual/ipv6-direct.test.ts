/**
 * The direct path over IPv6, in process: the real peers on dual-stack and
 * v6-only sites of the virtual lane (RFC 6092 firewalls, no NAT66). IPv6 is
 * punched whenever both peers offered IPv6 candidates, whatever their IPv4
 * NATs do; the path label says the family.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualSessionLab } from '../../netsim/virtual/lab.js';
import type { LabProfileName as ProfileName } from '../../netsim/virtual/topology.js';
import type { Ipv6Mode } from '../../netsim/kernel/ipv6.js';
import { addressFamily } from '../../src/net/ip.js';

interface Outcome {
  /** Visitor session up -> direct path, virtual ms. */
  directMs: number;
  path: string;
  remote: string;
  providerRemote: string;
  bytesOk: boolean;
}

async function xtcp(provider: ProfileName, visitor: ProfileName, ipv6: { provider: Ipv6Mode; visitor: Ipv6Mode }, seed: number): Promise<Outcome> {
  const lab = await VirtualSessionLab.start({ provider, visitor, seed, mode: 'xtcp', upBytes: 32 * 1024, downBytes: 32 * 1024, ipv6, offerHostAddresses: true });
  try {
    assert.ok(await lab.waitSession(30_000), lab.fatal ?? 'no session');
    const ms = await lab.waitPunchSettled(20_000);
    assert.notEqual(ms, null, `no direct path: ${JSON.stringify(lab.log('visitor', 'punch-failed').map((e) => e.fields['reason']))}`);
    const up = lab.log('visitor', 'direct-up')[0];
    const r = await lab.requestToEnd(60_000);
    // The provider locks when the visitor's after-lock probes reach it: read its line once the transfer ran.
    const pup = lab.log('provider', 'direct-up')[0];
    return {
      directMs: ms ?? NaN,
      path: String(up?.fields['path']),
      remote: String(up?.fields['remote']),
      providerRemote: String(pup?.fields['remote']),
      bytesOk: r.ok && r.upVerified && r.downVerified,
    };
  } finally {
    await lab.teardown();
  }
}

/** "[2001:db8:1::2]:4000" or "2001:db8:1::2:4000" -> the address. */
function addressOf(remote: string): string {
  const m = /^\[(.+)\]:\d+$/.exec(remote) ?? /^(.+):\d+$/.exec(remote);
  return m?.[1] ?? remote;
}

test('dual stack, IPv4 random-symmetric on both sides (hopeless over IPv4): direct over IPv6, 20 seeds', async () => {
  for (let seed = 1; seed <= 20; seed++) {
    const o = await xtcp('symmetric-random', 'symmetric-random', { provider: 'dual', visitor: 'dual' }, seed);
    assert.equal(o.path, 'direct internet IPv6', `seed ${seed}`);
    assert.equal(addressFamily(addressOf(o.remote)), 6, `seed ${seed}: ${o.remote}`);
    assert.match(addressOf(o.remote), /^2001:db8:1::/, `the visitor locked the provider's own global address (no NAT66): ${o.remote}`);
    assert.match(addressOf(o.providerRemote), /^2001:db8:2::/, o.providerRemote);
    assert.ok(o.bytesOk, `seed ${seed}: byte-exact`);
  }
});

test('IPv4 UDP blocked at the visitor, IPv6 open at both: direct over IPv6, without waiting out the IPv4 STUN timeout', async () => {
  const o = await xtcp('port-restricted-cone', 'udp-blocked', { provider: 'dual', visitor: 'dual' }, 3);
  assert.equal(o.path, 'direct internet IPv6');
  assert.ok(o.bytesOk);
  // The IPv4 STUN requests get no answer for 1.5 s; the offer goes once IPv6 answered (+ at most the 300 ms port-map grace).
  assert.ok(o.directMs < 1000, `direct after ${o.directMs} ms`);
});

test('two v6-only hosts: direct over IPv6', async () => {
  const o = await xtcp('port-restricted-cone', 'port-restricted-cone', { provider: 'v6-only', visitor: 'v6-only' }, 4);
  assert.equal(o.path, 'direct internet IPv6');
  assert.ok(o.bytesOk);
});

test('both families open with equal round trips: IPv6 is kept (its small preference)', async () => {
  const o = await xtcp('full-cone', 'full-cone', { provider: 'dual', visitor: 'dual' }, 5);
  assert.equal(o.path, 'direct internet IPv6');
  assert.ok(o.bytesOk);
});

test('IPv4 only on one side: the IPv4 path as before, labelled "direct internet"', async () => {
  const o = await xtcp('full-cone', 'port-restricted-cone', { provider: 'dual', visitor: 'off' }, 6);
  assert.equal(o.path, 'direct internet');
  assert.equal(addressFamily(addressOf(o.remote)), 4);
  assert.ok(o.bytesOk);
});
