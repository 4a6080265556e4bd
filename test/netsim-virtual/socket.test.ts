import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBurrowError } from '../../src/errors.js';
import { buildTopology, MAX_PAYLOAD, VirtualNetwork } from '../../netsim/virtual/index.js';

function pair() {
  const t = buildTopology({ seed: 2, sites: [{ name: 'p', nat: null, hosts: 2 }] });
  const [h1, h2] = t.site('p').hosts;
  return { t, h1: h1!, h2: h2! };
}

describe('VirtualUdpSocket follows the UdpSocket contract', () => {
  it('exchanges datagrams; localEndpoint is the bound address; ephemeral ports are in range', async () => {
    const { t, h1, h2 } = pair();
    const a = h1.bind();
    const b = h2.bind({ port: 9000 });
    assert.equal(a.localEndpoint().address, h1.address);
    assert.ok(a.localEndpoint().port >= 32768 && a.localEndpoint().port <= 60999);
    assert.deepEqual(b.localEndpoint(), { address: h2.address, port: 9000 });
    const got: string[] = [];
    b.onMessage((d, from) => {
      got.push(d.toString());
      assert.deepEqual(from, a.localEndpoint());
      b.send(Buffer.from('pong'), from);
    });
    let pong = false;
    a.onMessage((d) => (pong = d.toString() === 'pong'));
    const data = Buffer.from('ping');
    a.send(data, b.localEndpoint());
    data.write('XXXX'); // the network copied it
    await t.scheduler.advance(100);
    assert.deepEqual(got, ['ping']);
    assert.ok(pong);
    assert.equal(a.stats.datagramsOut, 1);
    assert.equal(b.stats.datagramsIn, 1);
  });

  it('send after close is a no-op; close is idempotent; the port can be bound again', async () => {
    const { t, h1, h2 } = pair();
    const a = h1.bind({ port: 7000 });
    const b = h2.bind({ port: 7000 });
    let got = 0;
    b.onMessage(() => got++);
    a.close();
    a.close();
    assert.equal(a.closed, true);
    a.send(Buffer.from('x'), b.localEndpoint());
    a.setTtl(5); // no-op once closed, no throw
    await t.scheduler.advance(100);
    assert.equal(got, 0);
    assert.equal(a.stats.droppedAfterClose, 1);
    assert.equal(t.network.trace.events.filter((e) => e.kind === 'send').length, 0);
    const again = h1.bind({ port: 7000 });
    assert.equal(again.closed, false);
  });

  it('no handler is called after close, even for datagrams already in flight', async () => {
    const { t, h1, h2 } = pair();
    const a = h1.bind();
    const b = h2.bind({ port: 7001 });
    let calls = 0;
    b.onMessage(() => calls++);
    b.onError(() => calls++);
    a.send(Buffer.from('in flight'), b.localEndpoint());
    b.close();
    await t.scheduler.advance(100);
    assert.equal(calls, 0);
    assert.equal(h2.stats.noSocket, 1);
  });

  it('a datagram to an unbound port is dropped and counted', async () => {
    const { t, h1, h2 } = pair();
    const a = h1.bind();
    a.send(Buffer.from('nobody'), { address: h2.address, port: 1234 });
    await t.scheduler.advance(100);
    assert.equal(h2.stats.noSocket, 1);
    assert.equal(t.network.drops['no-socket'], 1);
    assert.equal(t.network.trace.events.at(-1)?.note, 'no-socket');
  });

  it('errors go to onError, never thrown: bad endpoint, oversize datagram', () => {
    const { h1 } = pair();
    const a = h1.bind();
    const errors: Error[] = [];
    a.onError((e) => errors.push(e));
    a.send(Buffer.from('x'), { address: 'example.com', port: 1 });
    a.send(Buffer.from('x'), { address: '1.2.3.4', port: 0 });
    a.send(Buffer.alloc(MAX_PAYLOAD + 1), { address: '1.2.3.4', port: 1 });
    assert.equal(errors.length, 3);
    assert.ok(errors.every((e) => isBurrowError(e, 'ERR_INVALID_ARGUMENT')));
    assert.equal(a.stats.sendErrors, 3);
  });

  it('setTtl validates like the kernel socket; bind refuses taken ports and foreign addresses', () => {
    const { h1 } = pair();
    const a = h1.bind({ port: 5555 });
    assert.throws(() => a.setTtl(0), (e) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'));
    assert.throws(() => a.setTtl(256), (e) => isBurrowError(e, 'ERR_INVALID_ARGUMENT'));
    a.setTtl(2);
    assert.equal(a.currentTtl, 2);
    assert.throws(() => h1.bind({ port: 5555 }), (e) => isBurrowError(e, 'ERR_SOCKET_BIND'));
    assert.throws(() => h1.bind({ address: '0.0.0.0', port: 5555 }), (e) => isBurrowError(e, 'ERR_SOCKET_BIND'));
    assert.throws(() => h1.bind({ address: '10.9.9.9' }), (e) => isBurrowError(e, 'ERR_SOCKET_BIND'));
  });

  it('a wildcard socket on a two-address host receives on both addresses', async () => {
    const { t } = { t: buildTopology({ seed: 1, sites: [{ name: 'p', nat: null }] }) };
    const any = t.server.bind({ address: '0.0.0.0', port: 6000 });
    const seen: string[] = [];
    any.onMessage((_d, from) => seen.push(`${from.address}`));
    const c = t.site('p').host.bind();
    c.send(Buffer.from('1'), { address: t.serverAddresses[0], port: 6000 });
    c.send(Buffer.from('2'), { address: t.serverAddresses[1], port: 6000 });
    await t.scheduler.advance(100);
    assert.equal(seen.length, 2);
  });

  it('links apply LinkProfile semantics: MTU counts the 28-byte IP/UDP header; loss is seeded', async () => {
    const net = new VirtualNetwork({ seed: 1 });
    const r = net.addRouter('r');
    const h1 = net.addHost('h1', '192.0.2.1');
    const h2 = net.addHost('h2', '192.0.2.2');
    net.attachHost(h1, r, { mtu: 1400 });
    net.attachHost(h2, r, {}, { loss: 0.5 });
    const a = h1.bind();
    const b = h2.bind({ port: 1 });
    let got = 0;
    b.onMessage(() => got++);
    a.send(Buffer.alloc(1372), b.localEndpoint());
    a.send(Buffer.alloc(1373), b.localEndpoint());
    await net.scheduler.advance(10);
    assert.equal(got, 1);
    assert.equal(net.links[0]!.a.stats.tooBig, 1);
    // Loss on the router -> h2 direction.
    for (let i = 0; i < 200; i++) a.send(Buffer.from('x'), b.localEndpoint());
    await net.scheduler.advance(10);
    assert.ok(got > 60 && got < 140, `got ${got}`);
  });
});
