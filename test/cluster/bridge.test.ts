/**
 * Sessions across rendezvous nodes (rendezvous/cluster-bridge.ts), in one
 * process against a real redis-server: a visitor on one node reaches a
 * provider on another, the provider's node runs the setup and carries the
 * relay, names are claimed cluster-wide, and a node speaks only for the
 * sessions it holds.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { Logger } from '../../src/log/logger.js';
import { startRendezvous, type Rendezvous } from '../../rendezvous/rendezvous.js';
import { startProvider, startVisitor, type RunningProvider, type RunningVisitor } from '../../api/index.js';
import type { ClusterNode } from '../../rendezvous/cluster/node.js';
import { freePort } from '../support/cli.js';
import { LoopbackPeer } from '../rendezvous-unit/loopback-peer.js';
import { echoTarget, type Target } from '../support/targets.js';
import { redisMissing, LocalRedis } from '../../netsim/redis-server.js';
import { FAST_TIMERS, makeNode, waitFor } from './support.js';
import type { ClusterTimers } from '../../rendezvous/cluster/timers.js';

const skip = redisMissing();
const TOKEN = 'bridge-test-token-0123';
const quiet = new Logger({ sink: { write: () => {} } });

/** A rendezvous node on loopback, in a cluster, with its log lines kept. */
interface TestNode {
  readonly rv: Rendezvous;
  readonly port: number;
  readonly node: ClusterNode;
  readonly lines: string[];
}

async function startNode(redis: LocalRedis, id: string, timers: Partial<ClusterTimers> = {}): Promise<TestNode> {
  const port = await freePort();
  const node = makeNode(redis.socket, id, { advertise: `127.0.0.1:${port}`, timers: { ...FAST_TIMERS, ...timers } });
  await node.start();
  const lines: string[] = [];
  const rv = await startRendezvous({ host: '127.0.0.1', port, token: TOKEN, cluster: node, logger: new Logger({ sink: { write: (l) => void lines.push(l) } }), stun: 'off' });
  return { rv, port, node, lines };
}

async function echoThrough(port: number, payload: Buffer): Promise<Buffer> {
  const s = createConnection(port, '127.0.0.1');
  await once(s, 'connect');
  const chunks: Buffer[] = [];
  let got = 0;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`echo: ${got} of ${payload.length} bytes`)), 15_000);
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got >= payload.length) {
        clearTimeout(timer);
        resolve();
      }
    });
    s.once('error', reject);
  });
  s.write(payload);
  await done;
  s.destroy();
  return Buffer.concat(chunks);
}

/** Redis, an echo service and nodes `ids`, started before a describe's tests and stopped (with the peers they add) after. */
function clusterFixture(ids: readonly string[]): { redis: LocalRedis; nodes: TestNode[]; peers: (RunningProvider | RunningVisitor)[]; target: { port: number } } {
  const redis = new LocalRedis();
  const nodes: TestNode[] = [];
  const peers: (RunningProvider | RunningVisitor)[] = [];
  const target = { port: 0 };
  let echo: Target | null = null;
  before(async () => {
    await redis.start();
    echo = await echoTarget();
    target.port = echo.port;
    for (const id of ids) nodes.push(await startNode(redis, id));
  });
  after(async () => {
    await Promise.allSettled(peers.map((p) => p.stop()));
    await Promise.allSettled(nodes.map((n) => n.rv.close()));
    await echo?.close();
    await redis.stop();
  });
  return { redis, nodes, peers, target };
}

describe('sessions across rendezvous nodes', { skip: skip ?? false, timeout: 60_000 }, () => {
  const { redis, nodes, peers, target } = clusterFixture(['b1', 'b2']);

  const at = (i: number): TestNode => {
    const n = nodes[i];
    assert.ok(n, `node ${i}`);
    return n;
  };

  it('stcp: a visitor on node 2 reaches a provider on node 1; node 1 sets up and relays, node 2 relays nothing', async () => {
    const [n1, n2] = [at(0), at(1)];
    const secret = randomBytes(8).toString('hex');
    peers.push(await startProvider({ server: `127.0.0.1:${n1.port}`, token: TOKEN, mode: 'stcp', services: [{ name: 'nas', secret, to: `127.0.0.1:${target.port}` }], logger: quiet }));
    const visitor = await startVisitor({ server: `127.0.0.1:${n2.port}`, token: TOKEN, mode: 'stcp', name: 'nas', secret, logger: quiet });
    peers.push(visitor);
    const payload = randomBytes(2 * 1024 * 1024);
    const back = await echoThrough(visitor.address.port, payload);
    assert.ok(back.equals(payload), 'byte-exact');
    assert.equal(n1.rv.stats.relayLinks, 1, 'the relay link is on the provider\'s node');
    assert.equal(n2.rv.stats.relayLinks, 0);
    assert.equal(n2.rv.stats.relayBytes, 0);
    assert.equal(n2.rv.clusterHealth()?.sessions.forwarded, 1);
    assert.equal(n1.rv.clusterHealth()?.sessions.remoteConnects, 1);
    assert.equal(n1.rv.clusterHealth()?.sessions.remotePeers, 1);
    assert.ok(n1.lines.some((l) => l.includes('relay-start')));
    // The visitor leaves: node 2 says so, and node 1 forgets it.
    await visitor.stop();
    await waitFor('node 1 forgets the visitor on node 2', () => n1.rv.clusterHealth()?.sessions.remotePeers === 0, 5000);
  });

  it('xtcp: the punch is brokered on the provider\'s node and the session goes direct', async () => {
    const [n1, n2] = [at(0), at(1)];
    const secret = randomBytes(8).toString('hex');
    peers.push(await startProvider({ server: `127.0.0.1:${n1.port}`, token: TOKEN, services: [{ name: 'nas-x', secret, to: `127.0.0.1:${target.port}` }], logger: quiet }));
    const visitor = await startVisitor({ server: `127.0.0.1:${n2.port}`, token: TOKEN, name: 'nas-x', secret, logger: quiet });
    peers.push(visitor);
    const payload = randomBytes(256 * 1024);
    assert.ok((await echoThrough(visitor.address.port, payload)).equals(payload));
    await waitFor('node 1 brokered a punch', () => n1.rv.stats.punchBrokered >= 1, 10_000);
    assert.equal(n2.rv.stats.punchBrokered, 0, 'node 2 brokers nothing for a session it does not hold');
  });

  it('a name held on one node is refused on another, naming the node', async () => {
    const [n1, n2] = [at(0), at(1)];
    peers.push(await startProvider({ server: `127.0.0.1:${n1.port}`, token: TOKEN, services: [{ name: 'only-once', secret: 'x', to: `127.0.0.1:${target.port}` }], logger: quiet }));
    await assert.rejects(
      startProvider({ server: `127.0.0.1:${n2.port}`, token: TOKEN, services: [{ name: 'only-once', secret: 'y', to: `127.0.0.1:${target.port}` }], logger: quiet, startTimeoutMs: 3000 }),
      /already registered by a provider on rendezvous node "b1"/,
    );
    assert.equal(n2.rv.clusterHealth()?.sessions.namesTaken, 1);
    assert.equal(n2.rv.stats.services, 0, 'the refused name is not registered on node 2');
  });

  it('one registration at a time per provider: a second while the first is claimed is told BUSY', async () => {
    const p = await LoopbackPeer.login(at(0).port, TOKEN, 'provider');
    try {
      // One TCP segment, so the second arrives while the first's claim is at Redis.
      p.conn.socket.cork();
      p.send({ type: 'register', services: ['twice-a'] });
      p.send({ type: 'register', services: ['twice-b'] });
      p.conn.socket.uncork();
      const busy = await p.next('error', 5000, (m) => m.code === 'BUSY');
      assert.match(busy.message, /already under way/);
      const ok = await p.next('registered');
      assert.deepEqual(ok.services, ['twice-a']);
      assert.equal(await p.next('registered', 300).catch(() => null), null, 'the refused one changed nothing');
    } finally {
      p.close();
    }
  });

  it('a visitor asking for a name nobody serves gets NO_SUCH_SERVICE, and no message goes out', async () => {
    const n2 = at(1);
    const sent = n2.node.status().bus.sent;
    const visitor = await startVisitor({ server: `127.0.0.1:${n2.port}`, token: TOKEN, name: 'nobody', secret: 'z', logger: quiet });
    peers.push(visitor);
    await waitFor('the connect is refused', () => n2.rv.stats.refusals.NO_SUCH_SERVICE !== undefined, 5000);
    assert.equal(n2.node.status().bus.sent, sent);
  });

  it('a node speaks only for the sessions it holds: another node\'s answer to our visitor is dropped', async () => {
    const n2 = at(1);
    const intruder = makeNode(redis.socket, 'b3');
    await intruder.start();
    try {
      const before = n2.lines.filter((l) => l.includes('cluster-peer-message-dropped')).length;
      const r = await intruder.send(n2.node.self, {
        type: 'peer',
        fromPeer: 'setup',
        toPeer: 'p1',
        message: { type: 'connect-failed', connId: 'ab'.repeat(16), code: 'PROVIDER_GONE', message: 'forged' },
      });
      assert.equal(r.ok, true);
      await waitFor('node 2 drops it', () => n2.lines.filter((l) => l.includes('cluster-peer-message-dropped')).length > before, 3000);
      assert.ok(n2.lines.some((l) => l.includes('not a session of that node')));
    } finally {
      await intruder.close();
    }
  });
});

describe('a provider\'s node dies without a word', { skip: skip ?? false, timeout: 60_000 }, () => {
  const { nodes, peers, target } = clusterFixture(['d1', 'd2', 'd3']);

  it('the provider registers on the next node once the dead one\'s lease lapses, and the visitor\'s node finds it there without failing the visitor', async () => {
    const [d1, d2, d3] = nodes;
    assert.ok(d1 && d2 && d3);
    const secret = randomBytes(8).toString('hex');
    const provider = await startProvider({ server: [`127.0.0.1:${d1.port}`, `127.0.0.1:${d2.port}`], token: TOKEN, mode: 'stcp', services: [{ name: 'moving', secret, to: `127.0.0.1:${target.port}` }], logger: quiet });
    peers.push(provider);
    const visitor = await startVisitor({ server: `127.0.0.1:${d3.port}`, token: TOKEN, mode: 'stcp', name: 'moving', secret, logger: quiet });
    peers.push(visitor);
    const small = randomBytes(10_000);
    assert.ok((await echoThrough(visitor.address.port, small)).equals(small));
    // Like SIGKILL: the bus subscription closes at once, the lease runs until its TTL.
    await d1.node.abandon();
    await d1.rv.close();
    const killedAt = Date.now();
    await waitFor('the provider registers on d2', () => d2.rv.stats.services === 1, 10_000);
    const moved = Date.now() - killedAt;
    assert.ok(moved >= 500, `registered ${moved} ms after the kill: it waited for the lease (1.5 s TTL) to lapse`);
    assert.ok((await echoThrough(visitor.address.port, small)).equals(small), 'a new connection works through d2');
    assert.ok(Date.now() - killedAt < 10_000);
    assert.equal(d3.rv.stats.refusals.PROVIDER_GONE, undefined, 'the visitor was never told the provider was gone');
    assert.equal(d3.rv.stats.refusals.NO_SUCH_SERVICE, undefined);
    assert.ok((d3.rv.clusterHealth()?.sessions.forwardFailed ?? 0) >= 1, 'd3 did find d1 gone, and looked again');
  });
});

describe('a provider\'s node that takes the connect and never answers', { skip: skip ?? false, timeout: 30_000 }, () => {
  const redis = new LocalRedis();
  let node: TestNode | null = null;
  let silent: ClusterNode | null = null;
  let visitor: RunningVisitor | null = null;

  before(async () => {
    await redis.start();
    node = await startNode(redis, 'e1', { forwardAnswerMs: 800 });
    // A member that claims a name but has no server behind it: like a node frozen after the claim.
    silent = makeNode(redis.socket, 'e2');
    await silent.start();
    await silent.claim(['ghost']);
  });
  after(async () => {
    await visitor?.stop();
    await node?.rv.close();
    await silent?.close();
    await redis.stop();
  });

  it('fails the visitor\'s connect with TIMEOUT after forwardAnswerMs, and the visitor asks again', async () => {
    assert.ok(node);
    const n = node;
    visitor = await startVisitor({ server: `127.0.0.1:${n.port}`, token: TOKEN, mode: 'stcp', name: 'ghost', secret: 'x', logger: quiet });
    await waitFor('two connects timed out', () => (n.rv.stats.refusals.TIMEOUT ?? 0) >= 2, 10_000);
    assert.ok((n.rv.clusterHealth()?.sessions.forwarded ?? 0) >= 2, 'each went to the silent node first');
  });
});
