import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { ClusterNode } from '../../rendezvous/cluster/node.js';
import { LocalRedis, redisMissing } from '../../netsim/redis-server.js';
import { FAST_TIMERS, makeNode, waitFor } from './support.js';

const skip = redisMissing();
const TTL = FAST_TIMERS.leaseTtlMs ?? 0;
const CHILD = fileURLToPath(new URL('./node-child.js', import.meta.url));

/** A node process and the events it printed. */
class ChildNode {
  readonly events: Record<string, string>[] = [];
  readonly proc: ChildProcess;

  constructor(socket: string, nodeId: string, names: string) {
    this.proc = spawn(process.execPath, [CHILD, socket, nodeId, names], { stdio: ['pipe', 'pipe', 'inherit'] });
    const stdout = this.proc.stdout;
    if (stdout === null) throw new Error('no stdout');
    createInterface({ input: stdout }).on('line', (line) => this.events.push(JSON.parse(line) as Record<string, string>));
  }

  has(ev: string, field?: [string, string]): boolean {
    return this.events.some((e) => e.ev === ev && (field === undefined || e[field[0]] === field[1]));
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}

describe('a frozen node (SIGSTOP) and a frozen Redis', { skip: skip ?? false }, () => {
  let redis: LocalRedis;
  let nodes: ClusterNode[];
  let children: ChildNode[];

  beforeEach(async () => {
    redis = new LocalRedis();
    await redis.start();
    nodes = [];
    children = [];
  });
  afterEach(async () => {
    for (const c of children) {
      c.proc.kill('SIGCONT');
      c.kill();
    }
    await Promise.allSettled(nodes.map((n) => n.close()));
    await redis.stop();
  });

  const start = async (id: string): Promise<ClusterNode> => {
    const n = makeNode(redis.socket, id);
    nodes.push(n);
    await n.start();
    return n;
  };

  it('a SIGSTOPped node vanishes within its lease TTL; woken up, it notices, re-registers, and hears which names were taken meanwhile', async () => {
    const watcher = await start('watcher');
    const child = new ChildNode(redis.socket, 'frozen', 'kept,stolen');
    children.push(child);
    await waitFor('the child is registered', () => child.has('ready', ['answers', 'ok,ok']), 10_000);
    const where = await watcher.lookup('kept', { fresh: true });
    assert.equal(where?.node, 'frozen');
    assert.ok(where);

    child.proc.kill('SIGSTOP');
    // Frozen, its subscription is still open: only its lease tells it is gone.
    assert.deepEqual(await watcher.send(where, { type: 'ping', nonce: '1' }), { ok: true }, 'lease still live');
    const took = await waitFor('its names stop resolving', async () => (await watcher.lookup('kept', { fresh: true })) === null, TTL + 2000);
    assert.ok(took <= TTL + 500, `${took} ms for a ${TTL} ms lease`);
    assert.deepEqual(await watcher.claim(['stolen']), [{ kind: 'took-over' }]);
    assert.deepEqual(await watcher.send(where, { type: 'ping', nonce: '2' }), { ok: false, code: 'node-gone' }, 'lease lapsed, socket still open');

    child.proc.kill('SIGCONT');
    await waitFor('it says its lease was lost and is back', () => child.has('lost') && child.has('acquired'), 5000);
    await waitFor('kept resolves to it again', async () => (await watcher.lookup('kept', { fresh: true }))?.node === 'frozen', 5000);
    await waitFor('it hears stolen is taken', () => child.has('claim-lost', ['name', 'stolen']), 5000);
    assert.equal(child.events.find((e) => e.ev === 'claim-lost')?.owner, 'watcher');
    assert.equal((await watcher.lookup('stolen', { fresh: true }))?.node, 'watcher', 'the live owner keeps it');
  });

  it('a node that closes cleanly is gone at once, not a TTL later', async () => {
    const a = await start('a');
    const b = await start('b');
    await a.claim(['quick']);
    assert.equal((await b.lookup('quick', { fresh: true }))?.node, 'a');
    await a.close();
    assert.equal(await b.lookup('quick', { fresh: true }), null);
    assert.deepEqual((await b.view()).nodes?.map((n) => n.node), ['b']);
  });

  it('Redis frozen: a node counts its lease lost a TTL after its last confirmed renew, and regains it when Redis answers again', async () => {
    const a = await start('a');
    await a.claim(['svc']);
    const events: string[] = [];
    a.on('lost', (r) => events.push(`lost ${r}`));
    a.on('acquired', () => events.push('acquired'));
    redis.signal('SIGSTOP');
    try {
      const took = await waitFor('the lease counts as lost', () => events.includes('lost expired'), TTL + 2000);
      assert.ok(took <= TTL + 500, `${took} ms for a ${TTL} ms lease`);
      assert.equal(a.status().lease.held, false);
    } finally {
      redis.signal('SIGCONT');
    }
    await waitFor('regained', () => events.includes('acquired') && a.status().lease.held, 5000);
    const b = await start('b');
    assert.equal((await b.lookup('svc', { fresh: true }))?.node, 'a');
  });
});
