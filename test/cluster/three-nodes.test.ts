import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ClusterNode } from '../../rendezvous/cluster/node.js';
import type { NodeAddress } from '../../rendezvous/cluster/keys.js';
import type { ClusterMessage } from '../../rendezvous/cluster/messages.js';
import { LocalRedis, redisMissing } from '../../netsim/redis-server.js';
import { FAST_TIMERS, makeNode, waitFor } from './support.js';

const skip = redisMissing();

describe('three nodes on one redis-server', { skip: skip ?? false }, () => {
  let redis: LocalRedis;
  const nodes: ClusterNode[] = [];
  const inbox = new Map<string, { from: NodeAddress; msg: ClusterMessage }[]>();

  before(async () => {
    redis = new LocalRedis();
    await redis.start();
    for (const id of ['n1', 'n2', 'n3']) {
      const n = makeNode(redis.socket, id);
      const got: { from: NodeAddress; msg: ClusterMessage }[] = [];
      inbox.set(id, got);
      n.on('message', (from, msg) => got.push({ from, msg }));
      nodes.push(n);
    }
    await Promise.all(nodes.map((n) => n.start()));
  });

  after(async () => {
    await Promise.allSettled(nodes.map((n) => n.close()));
    await redis.stop();
  });

  const node = (i: number): ClusterNode => {
    const n = nodes[i];
    assert.ok(n);
    return n;
  };

  it('registers names on each node and every node finds every name, with its node and advertised address', async () => {
    assert.deepEqual(await node(0).claim(['alpha']), [{ kind: 'ok' }]);
    assert.deepEqual(await node(1).claim(['beta', 'beta2']), [{ kind: 'ok' }, { kind: 'ok' }]);
    assert.deepEqual(await node(2).claim(['gamma']), [{ kind: 'ok' }]);
    const where = { alpha: 0, beta: 1, beta2: 1, gamma: 2 } as const;
    for (let asker = 0; asker < 3; asker++) {
      for (const [name, owner] of Object.entries(where)) {
        const loc = await node(asker).lookup(name);
        assert.deepEqual(loc, { node: node(owner).self.node, incarnation: node(owner).self.incarnation, advertise: node(owner).advertise }, `${name} from n${asker + 1}`);
      }
      assert.equal(await node(asker).lookup('nobody'), null);
    }
  });

  it('refuses to claim something that is not a service name, and finds nothing under one', async () => {
    await assert.rejects(node(0).claim(['ok-name', 'bad name']), { code: 'ERR_INVALID_ARGUMENT' });
    assert.equal(node(0).status().claims.wanted, 1, 'nothing of the refused request was kept');
    assert.equal(await node(1).lookup('../../etc'), null);
  });

  it('carries bus messages both ways: a ping is answered with a pong, a peer message arrives intact', async () => {
    const a = node(0);
    const c = node(2);
    assert.deepEqual(await a.send(c.self, { type: 'ping', nonce: 'abc123' }), { ok: true });
    await waitFor('n3 got the ping and n1 the pong', () => inbox.get('n3')?.some((m) => m.msg.type === 'ping') === true && inbox.get('n1')?.some((m) => m.msg.type === 'pong') === true, 3000);
    const ping = inbox.get('n3')?.find((m) => m.msg.type === 'ping');
    assert.deepEqual(ping?.from, a.self);
    assert.deepEqual(inbox.get('n1')?.find((m) => m.msg.type === 'pong'), { from: c.self, msg: { type: 'pong', nonce: 'abc123' } });

    const peerMsg: ClusterMessage = { type: 'peer', fromPeer: 'p7', toPeer: 'p3', message: { type: 'incoming', connId: 'ab'.repeat(16), service: 'alpha', hello: 'aGVsbG8=' } };
    assert.deepEqual(await c.send(a.self, peerMsg), { ok: true });
    await waitFor('n1 got the peer message', () => inbox.get('n1')?.some((m) => m.msg.type === 'peer') === true, 3000);
    assert.deepEqual(inbox.get('n1')?.find((m) => m.msg.type === 'peer'), { from: c.self, msg: peerMsg });
    assert.equal(inbox.get('n2')?.length, 0, 'n2 heard nothing meant for others');
    for (const n of nodes) assert.equal(n.status().bus.dropped['bad-mac'], 0);
  });

  it('a message to a node id whose live lease is another incarnation (a restarted node) is node-gone, not delivered', async () => {
    const before = inbox.get('n2')?.length;
    const stale = { node: node(1).self.node, incarnation: 'f'.repeat(24) };
    assert.deepEqual(await node(0).send(stale, { type: 'ping', nonce: '9' }), { ok: false, code: 'node-gone' });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(inbox.get('n2')?.length, before);
    assert.equal(node(1).status().bus.dropped['not-for-us'], 0, 'it never reached n2');
  });

  it('refuses a message over the bus cap without sending anything', async () => {
    const before = inbox.get('n2')?.length;
    const big: ClusterMessage = { type: 'peer', fromPeer: 'p1', toPeer: 'p2', message: { blob: 'x'.repeat(64 * 1024) } };
    assert.deepEqual(await node(0).send(node(1).self, big), { ok: false, code: 'too-big' });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(inbox.get('n2')?.length, before);
  });

  it('claims many names in batches (more than one script call) and every one resolves', async () => {
    const many = Array.from({ length: 450 }, (_, i) => `bulk-${i}`);
    const answers = await node(2).claim(many);
    assert.equal(answers.length, 450);
    assert.ok(answers.every((a) => a.kind === 'ok'));
    for (const i of [0, 199, 200, 399, 400, 449]) assert.equal((await node(0).lookup(`bulk-${i}`, { fresh: true }))?.node, 'n3', `bulk-${i}`);
    for (const n of many) node(2).release(n);
    await waitFor('released', async () => (await node(0).lookup('bulk-449', { fresh: true })) === null, 2000);
    assert.equal(node(2).status().claims.wanted, 1);
  });

  it('lists the live nodes and its own lease in its view', async () => {
    const v = await node(1).view();
    assert.deepEqual(v.nodes?.map((n) => n.node), ['n1', 'n2', 'n3']);
    assert.equal(v.redis, 'connected');
    assert.equal(v.lease.held, true);
    assert.ok(v.lease.ageMs !== null && v.lease.ageMs < (FAST_TIMERS.leaseTtlMs ?? 0), `lease age ${v.lease.ageMs}`);
    assert.deepEqual(v.claims, { wanted: 2, held: 2, lost: 0 });
    assert.equal(v.unverifiedLeases, 0);
  });

  it('a node that goes silent (no cleanup) vanishes within the lease time: its names stop resolving, its bus reports node-gone', async () => {
    const gone = node(1);
    const stoppedAt = Date.now();
    await gone.abandon();
    const ttl = FAST_TIMERS.leaseTtlMs ?? 0;
    await waitFor('beta stops resolving', async () => (await node(0).lookup('beta', { fresh: true })) === null, ttl + 2000);
    const took = Date.now() - stoppedAt;
    assert.ok(took <= ttl + 500, `took ${took} ms, lease TTL ${ttl} ms`);
    assert.equal(await node(2).lookup('beta2', { fresh: true }), null);
    assert.deepEqual(await node(0).send(gone.self, { type: 'ping', nonce: '1' }), { ok: false, code: 'node-gone' });
    const v = await node(0).view();
    assert.deepEqual(v.nodes?.map((n) => n.node), ['n1', 'n3']);
    // The others are untouched.
    assert.equal((await node(2).lookup('alpha', { fresh: true }))?.node, 'n1');
  });
});
