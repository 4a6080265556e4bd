/**
 * Issue 14's acceptance, the parts that leave the cluster standing: three
 * rendezvous nodes on one redis-server, provider on n1, visitor on n3, all
 * CLI processes on loopback. stcp and xtcp carry transfers byte-exact, the
 * relay runs on the provider's node (never on the visitor's, never through
 * Redis), and a node without the cluster secret can neither join nor inject
 * bus messages. The failure cases are in cluster-failover.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { exchange, sha256 } from '../support/client.js';
import { CHANNEL_PREFIX } from '../../rendezvous/cluster/keys.js';
import type { LogEvent } from '../support/cli.js';
import { ClusterLab, knownService, redisMissing, waitFor, type KnownService, type Peer } from '../support/cluster-lab.js';

const skip = redisMissing();
const MiB = 1024 * 1024;
const RELAY_BYTES = 'burrow_rendezvous_relay_bytes_total';

/** Opens a connection through the visitor and returns its first connect-failed; the visitor is stopped after. */
async function firstFailure(visitor: Peer): Promise<LogEvent> {
  const pending = exchange(visitor.port, Buffer.alloc(0), 20_000).catch(() => undefined);
  try {
    return await visitor.proc.waitFor((e) => e.event === 'connect-failed', 'connect-failed', 10_000);
  } finally {
    visitor.proc.kill();
    await pending;
  }
}

describe('three rendezvous nodes on one Redis: a provider on n1 reached through n3', { skip: skip ?? false }, () => {
  let lab: ClusterLab | undefined;
  const services: KnownService[] = [];
  const secret = `svc-${randomBytes(8).toString('hex')}`;
  const theLab = (): ClusterLab => {
    assert.ok(lab, 'the lab started');
    return lab;
  };

  before(async () => {
    lab = await ClusterLab.start(['n1', 'n2', 'n3']);
  });
  after(async () => {
    await lab?.close();
    await Promise.all(services.map((s) => s.target.close()));
  });

  const service = async (bytes: number): Promise<KnownService> => {
    const s = await knownService(bytes);
    services.push(s);
    return s;
  };

  it('every node holds its lease in Redis and says it is healthy', async () => {
    const l = theLab();
    for (const id of ['n1', 'n2', 'n3']) {
      assert.ok(await l.leaseLive(id), `lease of ${id}`);
      const h = await l.health(id);
      assert.equal(h.status, 200, `${id}: ${JSON.stringify(h.body.reasons)}`);
      assert.equal(h.body.cluster?.node, id);
      assert.equal(h.body.cluster?.lease.held, true);
    }
  });

  for (const mode of ['stcp', 'xtcp'] as const) {
    it(`${mode}: a transfer both ways is byte-exact; the visitor's relay connection goes to n1, n3 relays nothing`, { timeout: 60_000 }, async () => {
      const l = theLab();
      const svc = await service(4 * MiB);
      const name = `files-${mode}`;
      await l.provide(name, secret, ['n1'], svc.target.port, mode);
      await waitFor(`the claim of ${name} names n1`, async () => (await l.claimOwner(name)) === 'n1', 3000);
      // Read before the visitor starts: it sets its session up as soon as it is logged in.
      const n1Relayed = (await l.metric('n1', RELAY_BYTES)) ?? 0;
      const sessions = async (id: string) => (await l.health(id)).body.cluster?.sessions;
      const forwardedBefore = (await sessions('n3'))?.forwarded ?? 0;
      const remoteBefore = (await sessions('n1'))?.remoteConnects ?? 0;
      const visitor = await l.visit(name, secret, ['n3'], mode);

      const upload = randomBytes(1 * MiB);
      const r = await exchange(visitor.port, upload, 45_000);
      assert.equal(r.error, undefined, `the connection ended cleanly (${r.error})`);
      assert.equal(r.bytes, svc.download.length, 'the whole download arrived');
      assert.equal(r.sha256, svc.downloadSha, 'the download is byte-exact');
      assert.deepEqual(svc.uploads, [sha256(upload)], 'the upload arrived byte-exact');

      // The relay link was spliced on the provider's node...
      await l.node('n1').proc.waitFor((e) => e.event === 'relay-start' && e.service === name, `relay-start for ${name} on n1`, 10_000);
      assert.ok(((await l.metric('n1', RELAY_BYTES)) ?? 0) > n1Relayed, 'n1 relayed bytes of this session');
      // ...and never on the visitor's.
      assert.equal(l.node('n3').proc.count('relay-start'), 0, 'no relay link on n3');
      assert.equal((await l.metric('n3', RELAY_BYTES)) ?? 0, 0, 'n3 relayed nothing');
      // The setup went n3 → n1 over the bus, as both nodes' health reports count it.
      assert.ok(((await sessions('n3'))?.forwarded ?? 0) > forwardedBefore, 'n3 forwarded the connect');
      assert.ok(((await sessions('n1'))?.remoteConnects ?? 0) > remoteBefore, 'n1 took a connect from another node');
      if (mode === 'xtcp') {
        // On loopback the punch succeeds: the session moves to the direct path.
        await visitor.proc.waitFor((e) => e.event === 'path' && e.path === 'direct', 'the direct path', 15_000);
      } else {
        assert.ok(((await l.metric('n1', RELAY_BYTES)) ?? 0) - n1Relayed >= svc.download.length + upload.length, 'stcp: every byte went through n1');
      }
    });
  }

  it('64 MiB relayed (stcp) from n1 to a visitor on n3: byte-exact, and Redis carries almost nothing meanwhile', { timeout: 120_000 }, async (t) => {
    const l = theLab();
    const svc = await service(64 * MiB);
    await l.provide('bulk', secret, ['n1'], svc.target.port, 'stcp');
    const visitor = await l.visit('bulk', secret, ['n3'], 'stcp');

    const redisBefore = await l.redisTraffic();
    const started = Date.now();
    const r = await exchange(visitor.port, Buffer.alloc(0), 100_000);
    const ms = Date.now() - started;
    const redisDelta = (await l.redisTraffic()) - redisBefore;
    t.diagnostic(`64 MiB in ${ms} ms; Redis traffic during the transfer: ${redisDelta} bytes in+out`);

    assert.equal(r.bytes, svc.download.length, `the whole download arrived (${r.error ?? 'no error'})`);
    assert.equal(r.sha256, svc.downloadSha, 'byte-exact');
    assert.ok(redisDelta < 1 * MiB, `Redis saw ${redisDelta} bytes during a 64 MiB transfer: relay bytes must not pass through it`);
    assert.equal((await l.metric('n3', RELAY_BYTES)) ?? 0, 0, 'n3 relayed nothing');
    assert.ok(((await l.metric('n1', RELAY_BYTES)) ?? 0) >= svc.download.length, 'n1 relayed it');
  });

  describe('without the cluster secret: n4 (another secret, same Redis), or anyone with access to Redis', () => {
    before(async () => {
      const l = theLab();
      await l.startNode('n4', { secretFile: l.otherSecretFile() });
    });

    it('a provider registered on n4 is not reachable from a visitor on n1: NO_SUCH_SERVICE', { timeout: 40_000 }, async () => {
      const l = theLab();
      const svc = await service(1000);
      await l.provide('rogue', secret, ['n4'], svc.target.port, 'stcp');
      // The claim is in Redis, under n4's name, but no node with the secret accepts it.
      await waitFor('the claim of rogue names n4', async () => (await l.claimOwner('rogue')) === 'n4', 3000);
      const visitor = await l.visit('rogue', secret, ['n1'], 'stcp');
      assert.equal((await firstFailure(visitor)).code, 'NO_SUCH_SERVICE');
      assert.equal(svc.target.connections, 0, 'nothing reached the service');
    });

    it('a visitor on n4 cannot reach the provider on n1: NO_SUCH_SERVICE', { timeout: 40_000 }, async () => {
      const l = theLab();
      const svc = await service(1000);
      await l.provide('honest', secret, ['n1'], svc.target.port, 'stcp');
      const visitor = await l.visit('honest', secret, ['n4'], 'stcp');
      assert.equal((await firstFailure(visitor)).code, 'NO_SUCH_SERVICE');
      assert.equal(svc.target.connections, 0, 'nothing reached the service');
    });

    it('a frame published on n1\'s bus channel without the secret is dropped and counted (bad-mac), n1 carries on', { timeout: 30_000 }, async () => {
      const l = theLab();
      const n1 = l.node('n1').proc;
      const seen = n1.events.length;
      const envelope = JSON.stringify({ from: { node: 'n4', incarnation: 'a'.repeat(24) }, to: { node: 'n1', incarnation: 'b'.repeat(24) }, counter: 1, ts: Date.now(), msg: { type: 'ping', nonce: 'forged' } });
      const receivers = await l.publish('n1', Buffer.concat([randomBytes(32), Buffer.from(envelope)]));
      assert.equal(receivers, 1, 'n1 is subscribed to its channel');
      const dropped = await n1.waitFor((e) => e.event === 'cluster-bus-dropped', 'cluster-bus-dropped on n1', 5000, seen);
      assert.equal(dropped.reason, 'bad-mac');
      // Counted in its health report and its metrics.
      const h = await l.health('n1');
      assert.equal(h.status, 200, 'n1 is healthy');
      assert.ok((h.body.cluster?.bus.dropped['bad-mac'] ?? 0) >= 1, `bad-mac drops in /health: ${JSON.stringify(h.body.cluster?.bus.dropped)}`);
      const counted = await l.metric('n1', 'burrow_rendezvous_cluster_bus_dropped_total', 'reason="bad_mac"');
      assert.ok(counted !== null && counted >= 1, `bad_mac drops in /metrics: ${counted}`);
      assert.ok(n1.running, 'n1 is still running');
      // And still serves: the provider on n1 is reachable from n3.
      const svc = await service(2000);
      await l.provide('after-forgery', secret, ['n1'], svc.target.port, 'stcp');
      const visitor = await l.visit('after-forgery', secret, ['n3'], 'stcp');
      const r = await exchange(visitor.port, Buffer.alloc(0), 15_000);
      assert.equal(r.sha256, svc.downloadSha);
    });

    it('a genuine frame replayed on n1\'s bus, or altered in one byte, is dropped and counted', { timeout: 30_000 }, async () => {
      const l = theLab();
      // Anyone with Redis access can listen to a node's bus.
      const spy = l.redis.client();
      const frames: Buffer[] = [];
      spy.on('messageBuffer', (_channel: Buffer, frame: Buffer) => frames.push(frame));
      try {
        await spy.subscribe(`${CHANNEL_PREFIX}n1`);
        const svc = await service(3000);
        await l.provide('listened', secret, ['n1'], svc.target.port, 'stcp');
        const visitor = await l.visit('listened', secret, ['n3'], 'stcp');
        const r = await exchange(visitor.port, Buffer.alloc(0), 15_000);
        assert.equal(r.sha256, svc.downloadSha, 'the session works');
        await waitFor('a frame to n1 was seen', () => frames.length > 0, 5000);
      } finally {
        spy.disconnect();
      }
      const frame = frames[0];
      assert.ok(frame);
      const before = (await l.health('n1')).body.cluster?.bus.dropped;
      assert.ok(before);
      assert.equal(await l.publish('n1', frame), 1);
      const altered = Buffer.from(frame);
      altered[altered.length - 2] = (altered[altered.length - 2] ?? 0) ^ 1;
      assert.equal(await l.publish('n1', altered), 1);
      await waitFor('n1 dropped both', async () => {
        const d = (await l.health('n1')).body.cluster?.bus.dropped;
        return d !== undefined && d.replayed > before.replayed && d['bad-mac'] > before['bad-mac'];
      }, 5000);
      assert.ok(((await l.metric('n1', 'burrow_rendezvous_cluster_bus_dropped_total', 'reason="replayed"')) ?? 0) >= 1);
    });
  });
});
