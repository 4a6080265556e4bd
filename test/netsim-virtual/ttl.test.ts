import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTopology } from '../../netsim/virtual/index.js';

function twoSites(seed = 1) {
  return buildTopology({
    seed,
    sites: [
      { name: 'a', nat: 'port-restricted-cone' },
      { name: 'b', nat: 'port-restricted-cone' },
    ],
  });
}

describe('TTL', () => {
  it('a TTL-2 packet leaves its own NAT (opening the mapping) and dies in the core', async () => {
    const t = twoSites();
    const s = t.site('a').host.bind({ port: 41000 });
    const peer = t.site('b').host.bind({ port: 42000 });
    let heard = 0;
    peer.onMessage(() => heard++);
    s.setTtl(2);
    s.send(Buffer.from('prime'), { address: t.site('b').publicAddress, port: 42000 });
    await t.scheduler.advance(1000);
    assert.equal(heard, 0);
    assert.equal(t.core.drops['ttl-expired'], 1);
    const natA = t.site('a').nat!;
    const natB = t.site('b').nat!;
    assert.equal(natA.table.mappings(t.scheduler.now()).length, 1, 'own mapping opened');
    assert.equal(natA.table.mappingOnPort(41000, t.scheduler.now())?.internal.port, 41000);
    // Nothing reached the peer's NAT: no state, no drops there.
    assert.deepEqual(natB.drops, {});
    assert.equal(natB.table.unrepliedEntries(t.scheduler.now()).length, 0);
    assert.ok(!t.network.trace.events.some((e) => e.node === 'b-nat'));
  });

  it('a TTL-1 packet dies at its own NAT without opening a mapping', async () => {
    const t = twoSites();
    const s = t.site('a').host.bind({ port: 41000 });
    s.setTtl(1);
    s.send(Buffer.from('x'), { address: t.serverAddresses[0], port: 9 });
    await t.scheduler.advance(1000);
    assert.equal(t.site('a').nat!.drops['ttl-expired'], 1);
    assert.equal(t.site('a').nat!.table.mappings(t.scheduler.now()).length, 0);
  });

  it('TTL 3 crosses the core and reaches the peer NAT; the receiver sees the decremented TTL', async () => {
    const t = twoSites();
    const s = t.site('a').host.bind({ port: 41000 });
    s.setTtl(3);
    s.send(Buffer.from('x'), { address: t.site('b').publicAddress, port: 42000 });
    await t.scheduler.advance(1000);
    // It reaches NAT B with TTL 1. Not admitted, it is the router's own input: no TTL check,
    // and it leaves an unreplied conntrack entry, so priming must use a TTL that dies in the core.
    assert.equal(t.site('b').nat!.drops['no-mapping'], 1);
    assert.equal(t.site('b').nat!.table.unrepliedEntries(t.scheduler.now()).length, 1);
    // Admitted but with TTL 1 left: NAT state is touched, then the forwarding TTL check drops it.
    // (A fresh port pair, primed first, so that no unreplied entry is in the way.)
    const a2 = t.site('a').host.bind({ port: 41001 });
    const b = t.site('b').host.bind({ port: 42001 });
    let heard = 0;
    b.onMessage(() => heard++);
    a2.setTtl(2);
    a2.send(Buffer.from('prime'), { address: t.site('b').publicAddress, port: 42001 });
    b.send(Buffer.from('open'), { address: t.site('a').publicAddress, port: 41001 });
    await t.scheduler.advance(1000);
    a2.setTtl(3);
    a2.send(Buffer.from('x'), { address: t.site('b').publicAddress, port: 42001 });
    await t.scheduler.advance(1000);
    assert.equal(heard, 0);
    assert.equal(t.site('b').nat!.drops['ttl-expired'], 1);
    // A default TTL packet to the server arrives with TTL 64 - 2 routers.
    const srv = t.server.bind({ port: 5000 });
    let ttl = 0;
    srv.onMessage(() => {
      ttl = t.network.trace.events.at(-1)!.ttl!;
    });
    s.setTtl(64);
    s.send(Buffer.from('y'), { address: t.serverAddresses[0], port: 5000 });
    await t.scheduler.advance(1000);
    assert.equal(ttl, 62);
  });
});
