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
import { echoTarget, type Target } from '../support/targets.js';
import { redisMissing, TestRedis } from './redis-server.js';
import { makeNode, waitFor } from './support.js';

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

async function startNode(redis: TestRedis, id: string): Promise<TestNode> {
  const port = await freePort();
  const node = makeNode(redis.socket, id, { advertise: `127.0.0.1:${port}` });
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

describe('sessions across rendezvous nodes', { skip: skip ?? false, timeout: 60_000 }, () => {
  const redis = new TestRedis();
  const nodes: TestNode[] = [];
  const peers: (RunningProvider | RunningVisitor)[] = [];
  let target: Target;

  before(async () => {
    await redis.start();
    target = await echoTarget();
    nodes.push(await startNode(redis, 'b1'), await startNode(redis, 'b2'));
  });
  after(async () => {
    await Promise.allSettled(peers.map((p) => p.stop()));
    await Promise.allSettled(nodes.map((n) => n.rv.close()));
    await target?.close();
    await redis.stop();
  });

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
