/**
 * Operating a node: GET /health and the cluster metrics on a rendezvous's
 * --metrics server, for a lone node and for a node in a cluster (a real
 * redis-server), and what they say when Redis goes away (killed: at once;
 * frozen: once the lease lapses) and comes back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';
import { RunningRendezvous, startRendezvous } from '../../api/rendezvous.js';
import { channelOf } from '../../rendezvous/cluster/keys.js';
import type { RendezvousHealth } from '../../rendezvous/health.js';
import { startRendezvous as startRendezvousServer } from '../../rendezvous/rendezvous.js';
import { Logger } from '../../src/log/logger.js';
import { ProcessGroup, freePort, type BurrowProcess } from '../support/cli.js';
import { metricsUrl, parseScrape, promtoolCheck, promtoolMissing, scrape, total } from '../metrics/scrape.js';
import { LocalRedis, redisMissing } from '../../netsim/redis-server.js';
import { SECRET, makeNode, waitFor } from './support.js';

const skip = redisMissing();
const noPromtool = promtoolMissing();
const quiet = new Logger({ sink: { write: () => {} } });
const TOKEN = 'health-test-token-4f1c';
const group = new ProcessGroup();
const dir = mkdtempSync(join(tmpdir(), 'burrow-health-'));
const secretFile = join(dir, 'cluster-secret');
writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });

after(async () => {
  await group.killAll();
  rmSync(dir, { recursive: true, force: true });
});

/** GET a URL: its status and body (JSON parsed when it is JSON). */
async function get(url: string): Promise<{ status: number; json: RendezvousHealth; text: string }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) as RendezvousHealth, text };
}

async function healthUrl(p: BurrowProcess): Promise<string> {
  return (await metricsUrl(p)).replace(/\/metrics$/, '/health');
}

/** A CLI rendezvous on loopback with --metrics (and the extra args), once it listens. */
async function cliRendezvous(name: string, extra: string[]): Promise<BurrowProcess> {
  const port = await freePort();
  const p = group.spawn(name, ['rendezvous', '--listen', `127.0.0.1:${port}`, '--udp-port', 'off', '--token', TOKEN, '--metrics', '127.0.0.1:0', ...extra]);
  await p.waitEvent('listening');
  return p;
}

describe('a lone rendezvous', () => {
  it('health() and GET /health: 200, ok, cluster null, the counts; no cluster metrics', async () => {
    const rv = await startRendezvous({ listen: '127.0.0.1:0', token: TOKEN, udpPort: 'off' });
    try {
      const h = rv.health();
      assert.deepEqual(h, { ok: true, reasons: [], listening: true, connections: 0, peers: { provider: 0, visitor: 0 }, services: 0, relayLinks: 0, cluster: null });
    } finally {
      await rv.stop();
    }
    assert.equal(rv.health().ok, false, 'a stopped rendezvous is not healthy');
    assert.deepEqual(rv.health().reasons, ['not-listening']);

    const cli = await cliRendezvous('lone', []);
    const r = await get(await healthUrl(cli));
    assert.equal(r.status, 200);
    assert.equal(r.json.ok, true);
    assert.equal(r.json.cluster, null);
    const samples = parseScrape(await scrape(await metricsUrl(cli)));
    assert.equal(total(samples, 'burrow_rendezvous_connections'), 0);
    assert.equal(total(samples, 'burrow_rendezvous_cluster_lease_held'), undefined, 'no cluster metrics without a cluster');
  });

  it('a peer\'s metrics server has no /health (404); its /metrics still answers', async () => {
    // Nothing listens on port 1: the provider keeps trying in the background, its metrics server is up.
    const p = group.spawn('provider', ['provide', '--server', '127.0.0.1:1', '--token', TOKEN, '--name', 'svc', '--secret', 'svc-secret', '--to', '127.0.0.1:9', '--metrics', '127.0.0.1:0']);
    const url = await metricsUrl(p);
    assert.equal((await fetch(url.replace(/\/metrics$/, '/health'))).status, 404);
    assert.equal((await fetch(url)).status, 200);
    p.kill();
  });
});

describe('a rendezvous in a cluster', { skip: skip ?? false }, () => {
  let redis: LocalRedis;

  before(async () => {
    redis = new LocalRedis();
    await redis.start();
  });

  /** Set while a test has Redis killed: the next test must not inherit that. */
  let redisDown = false;
  afterEach(async () => {
    if (redisDown) await redis.start();
    redisDown = false;
  });

  after(async () => {
    await redis.stop();
  });

  it('CLI: /health 200 with its cluster view and nothing secret; metrics pass promtool; Redis killed: 503, then its lease lapses; Redis back: 200', { timeout: 60_000 }, async () => {
    const rv = await cliRendezvous('node rv1', ['--cluster', redis.socket, '--node-id', 'rv1', '--cluster-secret-file', secretFile]);
    const url = await healthUrl(rv);
    const up = await get(url);
    assert.equal(up.status, 200, up.text);
    assert.equal(up.json.ok, true);
    const c = up.json.cluster;
    assert.ok(c !== null);
    assert.equal(c.node, 'rv1');
    assert.match(c.incarnation, /^[0-9a-f]{24}$/);
    assert.equal(c.redis, 'connected');
    assert.equal(c.lease.held, true);
    assert.equal(c.lease.ttlMs, 6000);
    assert.deepEqual(c.sessions, { forwarded: 0, forwardFailed: 0, remoteConnects: 0, remotePeers: 0, namesTaken: 0 });
    // Nothing secret: not the cluster secret, not the token, not the lease's MAC as Redis holds it.
    const client = redis.client();
    const lease = await client.get('cluster:node:rv1');
    client.disconnect();
    const mac = lease?.split(' ')[2];
    assert.ok(mac !== undefined && mac.length >= 16, `lease value ${lease}`);
    for (const secret of [SECRET, TOKEN, mac]) assert.ok(!up.text.includes(secret), 'a secret in /health');

    const text = await scrape(await metricsUrl(rv));
    const s = parseScrape(text);
    assert.equal(total(s, 'burrow_rendezvous_cluster_lease_held'), 1);
    assert.equal(total(s, 'burrow_rendezvous_cluster_redis_connected'), 1);
    assert.equal(total(s, 'burrow_rendezvous_cluster_bus_listening'), 1);
    assert.equal(total(s, 'burrow_rendezvous_cluster_lease_losses_total'), 0);
    assert.equal(total(s, 'burrow_rendezvous_cluster_claims', { state: 'wanted' }), 0);
    assert.equal(total(s, 'burrow_rendezvous_cluster_bus_dropped_total', { reason: 'bad_mac' }), 0);
    assert.equal(total(s, 'burrow_rendezvous_cluster_bus_messages_total', { direction: 'received' }), 0);
    assert.equal(total(s, 'burrow_rendezvous_cluster_forwarded_total'), 0);
    if (noPromtool === null) {
      const check = promtoolCheck(text);
      assert.equal(check.status, 0, check.output);
    }

    await redis.kill();
    redisDown = true;
    await waitFor('/health 503 redis-disconnected', async () => {
      const r = await get(url);
      return r.status === 503 && r.json.reasons.includes('redis-disconnected');
    }, 5_000);
    // Its own clock lets the lease lapse a TTL (6 s) after the last renew Redis confirmed.
    await waitFor('lease-not-held', async () => (await get(url)).json.reasons.includes('lease-not-held'), 10_000);
    const down = parseScrape(await scrape(await metricsUrl(rv)));
    assert.equal(total(down, 'burrow_rendezvous_cluster_lease_held'), 0);
    assert.equal(total(down, 'burrow_rendezvous_cluster_redis_connected'), 0);
    assert.ok((total(down, 'burrow_rendezvous_cluster_lease_losses_total') ?? 0) >= 1);

    await redis.start();
    redisDown = false;
    const back = await waitFor('/health 200 again', async () => (await get(url)).status === 200, 10_000);
    assert.ok(back < 10_000);
    assert.ok(rv.running, 'the node stayed up throughout');
  });

  it('a config file with [rendezvous] cluster keys starts a node of the cluster', { timeout: 30_000 }, async () => {
    const port = await freePort();
    const cfg = join(dir, 'node.toml');
    writeFileSync(
      cfg,
      `token = "${TOKEN}"
metrics = "127.0.0.1:0"
[rendezvous]
listen = "127.0.0.1:${port}"
udp_port = "off"
cluster = "${redis.socket}"
node_id = "toml-node"
cluster_secret_file = "${secretFile}"
`,
    );
    const p = group.spawn('toml node', ['-c', cfg]);
    await p.waitEvent('listening');
    const r = await get(await healthUrl(p));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.cluster?.node, 'toml-node');
    assert.equal(r.json.cluster?.advertise, `127.0.0.1:${port}`, 'advertise defaults to listen');
    const client = redis.client();
    const lease = await client.get('cluster:node:toml-node');
    client.disconnect();
    assert.ok(lease?.includes(`127.0.0.1:${port}`), `its lease in Redis: ${lease}`);
  });

  it('API, short timers: Redis frozen (SIGSTOP): unhealthy once the lease lapses, healthy again after SIGCONT; the metrics follow, a forged bus frame included', { timeout: 30_000 }, async () => {
    const node = makeNode(redis.socket, 'frozen-redis');
    await node.start();
    const server = await startRendezvousServer({ host: '127.0.0.1', port: 0, token: TOKEN, cluster: node, logger: quiet });
    const tcp = server.tcp;
    assert.ok(tcp !== null);
    const rv = new RunningRendezvous(server, { host: tcp.address, port: tcp.port });
    let frozen = false;
    try {
      assert.equal(rv.health().ok, true);
      const registry = rv.metrics();
      const leaseHeld = async (): Promise<number | undefined> => total(parseScrape(await registry.metrics()), 'burrow_rendezvous_cluster_lease_held');
      assert.equal(await leaseHeld(), 1);

      redis.signal('SIGSTOP');
      frozen = true;
      // FAST_TIMERS: a 1.5 s lease; the connection stays open, so only the lease says something is wrong.
      await waitFor('lease-not-held', () => rv.health().reasons.includes('lease-not-held'), 5_000);
      assert.equal(rv.health().ok, false);
      assert.equal(await leaseHeld(), 0);

      redis.signal('SIGCONT');
      frozen = false;
      await waitFor('healthy again', () => rv.health().ok, 5_000);
      assert.equal(await leaseHeld(), 1);
      assert.ok((total(parseScrape(await registry.metrics()), 'burrow_rendezvous_cluster_lease_losses_total') ?? 0) >= 1);

      // A frame not signed with the cluster secret (anyone with Redis access could publish it): dropped and counted as bad_mac.
      const client = redis.client();
      await client.publish(channelOf('frozen-redis'), Buffer.concat([randomBytes(32), Buffer.from('{"not":"signed"}')]));
      client.disconnect();
      await waitFor('bad_mac counted', async () => total(parseScrape(await registry.metrics()), 'burrow_rendezvous_cluster_bus_dropped_total', { reason: 'bad_mac' }) === 1, 3_000);
      assert.equal(total(parseScrape(await registry.metrics()), 'burrow_rendezvous_cluster_bus_messages_total', { direction: 'received' }), 0);
      assert.equal(rv.health().cluster?.bus.dropped['bad-mac'], 1);
    } finally {
      if (frozen) redis.signal('SIGCONT');
      await rv.stop();
    }
  });
});
