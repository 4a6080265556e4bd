import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTopology, natProfile } from '../../netsim/virtual/index.js';
import { Rendezvous } from './helpers.js';

async function twoBehindOne(hairpin: boolean) {
  const t = buildTopology({ seed: 3, sites: [{ name: 'lan', nat: natProfile('port-restricted-cone', { hairpin }), hosts: 2 }] });
  const rv = new Rendezvous(t.server);
  const [h1, h2] = t.site('lan').hosts;
  const s1 = h1!.bind({ port: 41000 });
  const s2 = h2!.bind({ port: 41000 });
  const pub1 = await rv.register(t.scheduler, 'h1', s1);
  const pub2 = await rv.register(t.scheduler, 'h2', s2);
  const got1: string[] = [];
  const got2: string[] = [];
  s1.onMessage((d, from) => got1.push(`${d} from ${from.address}:${from.port}`));
  s2.onMessage((d, from) => got2.push(`${d} from ${from.address}:${from.port}`));
  return { t, s1, s2, pub1, pub2, got1, got2 };
}

describe('hairpinning: two hosts behind one NAT', () => {
  it('with hairpin on, each reaches the other via the public endpoints, seeing the public source', async () => {
    const x = await twoBehindOne(true);
    assert.equal(x.pub1.port, 41000);
    assert.notEqual(x.pub2.port, 41000, 'second host falls back to another public port');
    for (let i = 0; i < 3; i++) {
      x.s1.send(Buffer.from('a'), x.pub2);
      x.s2.send(Buffer.from('b'), x.pub1);
      await x.t.scheduler.advance(50);
    }
    assert.ok(x.got2.includes(`a from ${x.pub1.address}:${x.pub1.port}`), x.got2.join());
    assert.ok(x.got1.includes(`b from ${x.pub2.address}:${x.pub2.port}`), x.got1.join());
  });

  it('with hairpin off, packets to the public endpoints are dropped; the private addresses still work', async () => {
    const x = await twoBehindOne(false);
    x.s1.send(Buffer.from('a'), x.pub2);
    x.s2.send(Buffer.from('b'), x.pub1);
    await x.t.scheduler.advance(200);
    assert.deepEqual([x.got1, x.got2], [[], []]);
    assert.equal(x.t.site('lan').nat!.drops['hairpin-off'], 2);
    x.s1.send(Buffer.from('direct'), x.s2.localEndpoint());
    await x.t.scheduler.advance(200);
    assert.deepEqual(x.got2, ['direct from 10.1.0.2:41000']);
  });
});
