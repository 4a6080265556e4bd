/**
 * The session lab with IPv6 sites (netsim/virtual/lab.ts): the rendezvous is
 * dual-stack (TCP on `::`, STUN per family), a v6-only peer reaches it over
 * IPv6 TCP and the relay carries its tunnel. Peers going direct over IPv6
 * are the session layer's to prove; here the lab's wiring is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualSessionLab } from '../../netsim/virtual/lab.js';
import { runVirtualSession } from '../../netsim/virtual/matrix/index.js';
import { SERVER_ADDRESSES6 } from '../../netsim/virtual/topology.js';
import { decodeMessage, encodeBindingRequest, newStunId, readBindingResponse } from '../../src/stun/index.js';

test('stcp with a v6-only visitor and a dual-stack provider: the control connections and the relay run over IPv6, byte-exact', async () => {
  const lab = await VirtualSessionLab.start({
    provider: 'port-restricted-cone',
    visitor: 'udp-blocked',
    seed: 5,
    upBytes: 64 * 1024,
    downBytes: 256 * 1024,
    recordTrace: true,
    ipv6: { provider: 'dual', visitor: 'v6-only' },
  });
  try {
    assert.deepEqual(lab.visitorHost.addresses, ['2001:db8:2::2']);
    assert.deepEqual(lab.providerHost.addresses, ['10.1.0.2', '2001:db8:1::2']);
    assert.equal(lab.rendezvous.tcp?.address, '::');
    assert.ok(await lab.waitSession(30_000), lab.fatal ?? 'no session');
    const r = await lab.requestToEnd(60_000);
    assert.ok(r.ok && r.upVerified && r.downVerified, r.error);
    const syns = lab.tcp.trace.events.filter((e) => e.kind === 'syn').map((e) => `${e.from} -> ${e.to}`);
    assert.ok(syns.some((s) => /^\[2001:db8:2::2\]:\d+ -> \[2001:db8:ffff::1\]:7000$/.test(s)), 'the visitor dialled the server over IPv6');
    // The dual-stack provider knows the rendezvous by a name with A and AAAA records: Happy Eyeballs tries IPv6 first.
    assert.ok(syns.some((s) => /^\[2001:db8:1::2\]:\d+ -> \[2001:db8:ffff::1\]:7000$/.test(s)), `the dual-stack provider dialled the name over IPv6: ${syns.join(', ')}`);
    const accepts = lab.tcp.trace.events.filter((e) => e.kind === 'accept' && e.to.endsWith(':7000')).map((e) => e.from);
    assert.ok(accepts.some((a) => a.startsWith('[2001:db8:2::2]:')), 'the server saw the visitor\'s own global address');
  } finally {
    const left = await lab.teardown();
    assert.deepEqual(left, { leftSockets: 0, leftListeners: 0 });
  }
});

test('xtcp between two dual-stack sites: the rendezvous binds its STUN layout on both families; the session goes direct', async () => {
  const lab = await VirtualSessionLab.start({
    provider: 'port-restricted-cone',
    visitor: 'full-cone',
    seed: 6,
    mode: 'xtcp',
    upBytes: 16 * 1024,
    downBytes: 16 * 1024,
    ipv6: { provider: 'dual', visitor: 'dual' },
    offerHostAddresses: true,
  });
  try {
    assert.deepEqual(lab.topo.server.addresses6, [...SERVER_ADDRESSES6]);
    // IPv6 first, as startRendezvous orders the families.
    const families = lab.rendezvous.udpAll.map((u) => u.describe());
    assert.equal(families.length, 2);
    assert.ok(families[0]?.startsWith(`[${SERVER_ADDRESSES6[0]}]:7000,`), families[0]);
    assert.ok(families[1]?.startsWith('198.51.100.2:7000,'), families[1]);
    // The IPv6 STUN port answers a dual-stack host with its own global address (no NAT66).
    const probe = lab.providerHost.bind({ address: '::', port: 41000 });
    let answer: ReturnType<typeof readBindingResponse> | null = null;
    probe.onMessage((data) => {
      const m = decodeMessage(data);
      if (m.ok) answer = readBindingResponse(m.message);
    });
    probe.send(encodeBindingRequest({ id: newStunId((n) => Buffer.alloc(n, 7)) }), { address: SERVER_ADDRESSES6[0], port: 7000 });
    assert.ok(await lab.runUntil(() => answer !== null, 1_000), 'STUN over IPv6 answered');
    assert.deepEqual(answer, {
      mapped: { address: '2001:db8:1::2', port: 41000 },
      other: { address: SERVER_ADDRESSES6[1], port: 7001 },
      origin: { address: SERVER_ADDRESSES6[0], port: 7000 },
    });
    probe.close();
    assert.ok(await lab.waitSession(30_000), lab.fatal ?? 'no session');
    const ms = await lab.waitPunchSettled(20_000);
    assert.notEqual(ms, null, 'direct path up');
    const r = await lab.requestToEnd(60_000);
    assert.ok(r.ok && r.upVerified && r.downVerified, r.error);
  } finally {
    await lab.teardown();
  }
});

test('runVirtualSession passes the IPv6 sites through: a v6-only pair over the relay', async () => {
  const r = await runVirtualSession({
    provider: 'full-cone',
    visitor: 'port-restricted-cone',
    seed: 8,
    sizeBytes: 64 * 1024,
    recordTrace: true,
    ipv6: { provider: 'v6-only', visitor: 'v6-only' },
  });
  assert.equal(r.outcome, 'relay', r.error);
  assert.ok(r.upVerified && r.downVerified);
  const syns = r.tcpEvents.filter((e) => e.kind === 'syn' && e.to.endsWith(':7000')).map((e) => e.from);
  assert.ok(syns.length >= 2 && syns.every((f) => f.startsWith('[2001:db8:')), syns.join(', '));
  assert.deepEqual([r.leftSockets, r.leftListeners], [0, 0]);
});
