import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ClusterNode } from '../../rendezvous/cluster/node.js';
import { LocalRedis, redisMissing } from '../../netsim/redis-server.js';
import { makeNode } from './support.js';

const skip = redisMissing();

/** A small seeded generator, so a failure names the seed that repeats it. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

describe('claims and releases from three nodes in random interleavings', { skip: skip ?? false }, () => {
  let redis: LocalRedis;
  const nodes: ClusterNode[] = [];

  before(async () => {
    redis = new LocalRedis();
    await redis.start();
    for (const id of ['r1', 'r2', 'r3']) nodes.push(makeNode(redis.socket, id));
    await Promise.all(nodes.map((n) => n.start()));
  });
  after(async () => {
    await Promise.allSettled(nodes.map((n) => n.close()));
    await redis.stop();
  });

  it('every name resolves to at most one node, that node holds it, and no node holds a name another resolves to', async () => {
    const names = ['n0', 'n1', 'n2', 'n3', 'n4'];
    const seed = Date.now() % 100_000;
    const rnd = lcg(seed);
    const pick = <T>(xs: readonly T[]): T => {
      const x = xs[Math.floor(rnd() * xs.length)];
      assert.ok(x !== undefined);
      return x;
    };
    for (let round = 0; round < 40; round++) {
      // A burst of operations in flight together: claims race each other and releases.
      const ops: Promise<unknown>[] = [];
      for (let k = 0; k < 6; k++) {
        const node = pick(nodes);
        const name = pick(names);
        const r = rnd();
        if (r < 0.6) ops.push(node.claim([name]));
        else if (r < 0.8) node.release(name);
        else {
          // Released while its claim is on the way (a provider that registers and goes at once).
          ops.push(node.claim([name]));
          node.release(name);
        }
      }
      await Promise.all(ops);
      // Releases are sent without waiting for an answer: let them land.
      await new Promise((r) => setTimeout(r, 60));
      for (const name of names) {
        const holders = nodes.filter((n) => n.holds(name)).map((n) => n.self.node);
        assert.ok(holders.length <= 1, `seed ${seed} round ${round}: ${name} held by ${holders.join(',')}`);
        const seen = await Promise.all(nodes.map(async (n) => (await n.lookup(name, { fresh: true }))?.node ?? null));
        assert.ok(seen.every((s) => s === seen[0]), `seed ${seed} round ${round}: ${name} seen as ${seen.join(',')}`);
        assert.equal(seen[0], holders[0] ?? null, `seed ${seed} round ${round}: ${name} resolves to ${seen[0]}, held by ${holders.join(',')}`);
      }
    }
  });
});
