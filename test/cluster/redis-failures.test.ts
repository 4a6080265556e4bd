import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { ClusterNode } from '../../rendezvous/cluster/node.js';
import type { ClusterMessage } from '../../rendezvous/cluster/messages.js';
import { leaseKey } from '../../rendezvous/cluster/keys.js';
import { LocalRedis, redisMissing } from '../../netsim/redis-server.js';
import { FAST_TIMERS, makeNode, waitFor } from './support.js';

const skip = redisMissing();
const TTL = FAST_TIMERS.leaseTtlMs ?? 0;

describe('cluster nodes when Redis or a node misbehaves', { skip: skip ?? false }, () => {
  let redis: LocalRedis;
  let nodes: ClusterNode[];

  beforeEach(async () => {
    redis = new LocalRedis();
    await redis.start();
    nodes = [];
  });
  afterEach(async () => {
    await Promise.allSettled(nodes.map((n) => n.close()));
    await redis.stop();
  });

  const start = async (id: string, extra: Parameters<typeof makeNode>[2] = {}): Promise<ClusterNode> => {
    const n = makeNode(redis.socket, id, extra);
    nodes.push(n);
    await n.start();
    return n;
  };

  it('Redis killed and restarted empty: every node notices, re-registers, and names resolve again within seconds', async () => {
    const a = await start('a');
    const b = await start('b');
    await a.claim(['web', 'ssh']);
    await b.claim(['nas']);
    const events: string[] = [];
    for (const n of [a, b]) {
      n.on('lost', (r) => events.push(`${n.self.node} lost ${r}`));
      n.on('acquired', () => events.push(`${n.self.node} acquired`));
    }
    await redis.kill();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(a.status().redis, 'disconnected');
    assert.equal(a.status().bus.listening, false);
    assert.equal((await a.view()).nodes, null, 'no list of nodes while Redis is away');
    const restartedAt = Date.now();
    await redis.start();
    await waitFor('every name resolves again', async () => {
      try {
        const [w, s, n] = await Promise.all([b.lookup('web', { fresh: true }), b.lookup('ssh', { fresh: true }), a.lookup('nas', { fresh: true })]);
        return w?.node === 'a' && s?.node === 'a' && n?.node === 'b';
      } catch {
        return false; // not reconnected yet
      }
    }, 5000);
    const took = Date.now() - restartedAt;
    assert.ok(took < 3000, `names came back ${took} ms after the restart`);
    for (const id of ['a', 'b']) {
      assert.ok(events.includes(`${id} acquired`), `${id} re-acquired its lease: ${events.join('; ')}`);
      assert.ok(events.some((e) => e.startsWith(`${id} lost`)), `${id} said it lost its lease: ${events.join('; ')}`);
    }
    assert.equal(a.status().redis, 'connected');
    await waitFor('the bus connection is back', () => a.status().bus.listening && b.status().bus.listening, 3000);
    // The bus is back too (the subscriber re-subscribed).
    const got: ClusterMessage[] = [];
    b.on('message', (_f, m) => got.push(m));
    await waitFor('a message reaches b', async () => (await a.send(b.self, { type: 'ping', nonce: 'ff' })).ok, 3000);
    await waitFor('b got it', () => got.length > 0, 2000);
  });

  it('the same name claimed on two nodes at once: exactly one wins, every time, and the loser is told who holds it', async () => {
    const a = await start('a');
    const b = await start('b');
    const wins = { a: 0, b: 0 };
    for (let i = 0; i < 40; i++) {
      const name = `race-${i}`;
      const first = Math.random() < 0.5 ? a : b;
      const second = first === a ? b : a;
      const [r1, r2] = await Promise.all([first.claim([name]), second.claim([name])]);
      const byNode = new Map([[first.self.node, r1[0]], [second.self.node, r2[0]]]);
      const winners = [...byNode].filter(([, r]) => r?.kind === 'ok').map(([n]) => n);
      assert.equal(winners.length, 1, `${name}: ${JSON.stringify([...byNode])}`);
      const winner = winners[0] as 'a' | 'b';
      const loser = winner === 'a' ? 'b' : 'a';
      assert.deepEqual(byNode.get(loser), { kind: 'taken', owner: winner });
      wins[winner]++;
      assert.equal((await a.lookup(name, { fresh: true }))?.node, winner);
      assert.equal((await b.lookup(name, { fresh: true }))?.node, winner);
    }
    assert.equal(wins.a + wins.b, 40);
    assert.deepEqual(a.status().claims.held + b.status().claims.held, 40, 'the losers do not keep claiming');
  });

  it('a name held by a node whose lease lapsed is taken over; while it is live it is not', async () => {
    const a = await start('a');
    const b = await start('b');
    await a.claim(['cam']);
    await a.abandon();
    assert.deepEqual(await b.claim(['cam']), [{ kind: 'taken', owner: 'a' }], 'a lease still live: the first claim stands');
    await waitFor('a lease lapses', async () => (await b.lookup('cam', { fresh: true })) === null, TTL + 2000);
    assert.deepEqual(await b.claim(['cam']), [{ kind: 'took-over' }]);
    assert.equal((await b.lookup('cam', { fresh: true }))?.node, 'b');
  });

  it('claims are refreshed while their node lives and forgotten by Redis once it is gone (Redis stays bounded)', async () => {
    const a = await start('a');
    const b = await start('b');
    await a.claim(['keep']);
    await b.claim(['drop']);
    await b.abandon();
    const claimTtl = FAST_TIMERS.claimTtlMs ?? 0;
    await new Promise((r) => setTimeout(r, claimTtl + 500));
    const raw = redis.client();
    try {
      assert.equal(await raw.exists('cluster:svc:drop'), 0, 'a dead node\'s claim expired');
      assert.equal(await raw.exists('cluster:node:b'), 0);
      assert.equal(await raw.exists('cluster:svc:keep'), 1, 'a live node\'s claim outlived its TTL: it was refreshed');
      const ttl = await raw.pttl('cluster:svc:keep');
      assert.ok(ttl > 0 && ttl <= claimTtl, `pttl ${ttl}`);
    } finally {
      raw.disconnect();
    }
    assert.equal((await a.lookup('keep', { fresh: true }))?.node, 'a');
  });

  it('a node whose lease vanished under it re-registers, and a name another node took meanwhile is reported lost', async () => {
    const a = await start('a');
    const b = await start('b');
    await a.claim(['printer', 'files']);
    const lost: [string, string][] = [];
    a.on('claim-lost', (name, owner) => lost.push([name, owner]));
    const raw = redis.client();
    try {
      await raw.del(leaseKey('a'));
    } finally {
      raw.disconnect();
    }
    assert.deepEqual(await b.claim(['printer']), [{ kind: 'took-over' }]);
    await waitFor('a hears that printer is lost', () => lost.length > 0, 3000);
    assert.deepEqual(lost, [['printer', 'b']]);
    await waitFor('files resolves to a again', async () => (await b.lookup('files', { fresh: true }))?.node === 'a', 3000);
    assert.equal((await a.lookup('printer', { fresh: true }))?.node, 'b');
    assert.deepEqual({ wanted: a.status().claims.wanted, held: a.status().claims.held, lost: a.status().claims.lost }, { wanted: 1, held: 1, lost: 1 });
  });

  it('a node with the wrong cluster secret: its bus messages are dropped and counted, its lease and claims never resolve', async () => {
    const good = await start('good');
    const got: ClusterMessage[] = [];
    good.on('message', (_f, m) => got.push(m));
    const evil = await start('evil', { secret: 'not-the-cluster-secret-at-all!!' });
    // Its frames reach the channel (PUBLISH counts the subscriber) but never get past the MAC.
    assert.deepEqual(await evil.send(good.self, { type: 'ping', nonce: '01' }), { ok: true });
    await evil.send(good.self, { type: 'peer', fromPeer: 'p1', toPeer: 'p1', message: { type: 'incoming' } });
    await waitFor('both frames dropped', () => good.status().bus.dropped['bad-mac'] === 2, 2000);
    assert.equal(got.length, 0);
    assert.equal(good.status().bus.received, 0);
    // Its lease is not a live node to the others; its claim writes a key but never resolves.
    const v = await good.view();
    assert.deepEqual(v.nodes?.map((n) => n.node), ['good']);
    assert.equal(v.unverifiedLeases, 1);
    assert.deepEqual(await evil.claim(['squat']), [{ kind: 'ok' }]);
    assert.equal(await good.lookup('squat', { fresh: true }), null);
    // A garbage frame published straight to the channel is dropped too, without harm.
    const raw = redis.client();
    try {
      assert.equal(await raw.publish('cluster:to:good', Buffer.from('garbage')), 1);
      await raw.publish('cluster:to:good', Buffer.alloc(30 * 1024, 1));
    } finally {
      raw.disconnect();
    }
    await waitFor('garbage counted', () => good.status().bus.dropped.malformed === 1 && good.status().bus.dropped['too-big'] === 1, 2000);
    assert.equal(got.length, 0);
  });

  it('a second process with the same node id does not get the lease while the first holds it', async () => {
    await start('same');
    const twin = makeNode(redis.socket, 'same', { timers: { ...FAST_TIMERS, leaseTtlMs: 600, leaseRefreshMs: 200, redisCommandTimeoutMs: 150 } });
    await assert.rejects(twin.start(), (e: Error & { code?: string }) => e.code === 'ERR_CLUSTER_UNAVAILABLE');
  });
});

describe('a node whose Redis is not there', () => {
  it('start() fails at once with ERR_CLUSTER_UNAVAILABLE and the reason, and leaves nothing running', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'burrow-noredis-'));
    try {
      const n = makeNode(join(dir, 'redis.sock'), 'lonely');
      const t = Date.now();
      await assert.rejects(n.start(), (e: Error & { code?: string }) => e.code === 'ERR_CLUSTER_UNAVAILABLE' && /ENOENT/.test(e.message));
      assert.ok(Date.now() - t < 3000);
      assert.equal(n.status().redis, 'disconnected');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
