/**
 * The cluster figures move with real traffic: two rendezvous nodes (CLI
 * processes) on one redis-server, a provider on node A, a visitor on node B
 * (stcp: the relay link goes to A), bytes echoed through; then each node's
 * /metrics and /health say what happened between them, and a second provider
 * of the same name on B is refused and counted. Every scrape passes promtool.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RendezvousHealth } from '../../rendezvous/health.js';
import { ProcessGroup, freePort, type BurrowProcess } from '../support/cli.js';
import { exchange, sha256 } from '../support/client.js';
import { echoTarget, type Target } from '../support/targets.js';
import { metricsUrl, parseScrape, promtoolCheck, promtoolMissing, scrape, total, type Sample } from '../metrics/scrape.js';
import { LocalRedis, redisMissing } from '../../netsim/redis-server.js';
import { SECRET } from './support.js';

const skip = redisMissing();
const noPromtool = promtoolMissing();
const TOKEN = 'cluster-metrics-token-91ab';

describe('cluster metrics across two nodes', { skip: skip ?? false, timeout: 90_000 }, () => {
  const group = new ProcessGroup();
  let redis: LocalRedis;
  let target: Target;
  let dir: string;
  const nodes: { proc: BurrowProcess; port: number }[] = [];

  before(async () => {
    redis = new LocalRedis();
    await redis.start();
    target = await echoTarget();
    dir = mkdtempSync(join(tmpdir(), 'burrow-cluster-metrics-'));
    const secretFile = join(dir, 'secret');
    writeFileSync(secretFile, SECRET, { mode: 0o600 });
    for (const id of ['node-a', 'node-b']) {
      const port = await freePort();
      const proc = group.spawn(id, [
        'rendezvous', '--listen', `127.0.0.1:${port}`, '--udp-port', 'off', '--token', TOKEN, '--metrics', '127.0.0.1:0',
        '--cluster', redis.socket, '--node-id', id, '--cluster-secret-file', secretFile,
      ]);
      await proc.waitEvent('listening');
      nodes.push({ proc, port });
    }
  });

  after(async () => {
    await group.killAll();
    await target.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const node = (i: number): { proc: BurrowProcess; port: number } => {
    const n = nodes[i];
    assert.ok(n !== undefined);
    return n;
  };

  async function scrapeNode(i: number): Promise<Sample[]> {
    const text = await scrape(await metricsUrl(node(i).proc));
    if (noPromtool === null) {
      const check = promtoolCheck(text);
      assert.equal(check.status, 0, check.output);
    }
    return parseScrape(text);
  }

  async function health(i: number): Promise<RendezvousHealth> {
    const res = await fetch((await metricsUrl(node(i).proc)).replace(/\/metrics$/, '/health'));
    assert.equal(res.status, 200);
    return (await res.json()) as RendezvousHealth;
  }

  it('a visitor on B reaches a provider on A: B counts a forwarded connect, A a remote one, both bus traffic', async () => {
    const peer = (i: number) => ['--server', `127.0.0.1:${node(i).port}`, '--token', TOKEN, '--name', 'svc', '--secret', 'svc-secret', '--mode', 'stcp'];
    const provider = group.spawn('provider', ['provide', ...peer(0), '--to', `127.0.0.1:${target.port}`]);
    await provider.waitEvent('registered');
    const a0 = await scrapeNode(0);
    assert.equal(total(a0, 'burrow_rendezvous_cluster_claims', { state: 'wanted' }), 1);
    assert.equal(total(a0, 'burrow_rendezvous_cluster_claims', { state: 'held' }), 1);

    const port = await freePort();
    const visitor = group.spawn('visitor', ['visit', ...peer(1), '--listen', `127.0.0.1:${port}`]);
    await visitor.waitEvent('listening');
    const data = randomBytes(200_000);
    const got = await exchange(port, data, 30_000);
    assert.equal(got.sha256, sha256(data), 'byte-exact through the provider\'s node');

    const a = await scrapeNode(0);
    const b = await scrapeNode(1);
    assert.equal(total(b, 'burrow_rendezvous_cluster_forwarded_total'), 1);
    assert.equal(total(b, 'burrow_rendezvous_cluster_forward_failed_total'), 0);
    assert.equal(total(a, 'burrow_rendezvous_cluster_remote_connects_total'), 1);
    assert.equal(total(a, 'burrow_rendezvous_cluster_forwarded_total'), 0);
    for (const [who, s] of [['A', a], ['B', b]] as const) {
      assert.ok((total(s, 'burrow_rendezvous_cluster_bus_messages_total', { direction: 'sent' }) ?? 0) >= 1, `${who} sent on the bus`);
      assert.ok((total(s, 'burrow_rendezvous_cluster_bus_messages_total', { direction: 'received' }) ?? 0) >= 1, `${who} received on the bus`);
      assert.equal(total(s, 'burrow_rendezvous_cluster_bus_dropped_total'), 0, `${who} dropped nothing`);
      assert.equal(total(s, 'burrow_rendezvous_cluster_lease_held'), 1);
    }
    // The relay link is spliced on A, the provider's node, never on B.
    assert.ok((total(a, 'burrow_rendezvous_relay_bytes_total') ?? 0) >= data.length, 'relay bytes on A');
    assert.equal(total(b, 'burrow_rendezvous_relay_bytes_total'), 0, 'no relay bytes on B');

    const hb = await health(1);
    assert.equal(hb.cluster?.sessions.forwarded, 1);
    assert.equal((await health(0)).cluster?.sessions.remoteConnects, 1);
  });

  it('a second provider of the name on B is refused (NAME_TAKEN) and B counts it', async () => {
    const dup = group.spawn('provider-dup', [
      'provide', '--server', `127.0.0.1:${node(1).port}`, '--token', TOKEN, '--name', 'svc', '--secret', 'svc-secret', '--mode', 'stcp', '--to', `127.0.0.1:${target.port}`,
    ]);
    await dup.waitFor((e) => e.event === 'rendezvous-error' && e.code === 'NAME_TAKEN', 'NAME_TAKEN');
    const b = await scrapeNode(1);
    assert.ok((total(b, 'burrow_rendezvous_cluster_names_taken_total') ?? 0) >= 1);
    assert.equal(total(b, 'burrow_rendezvous_cluster_claims', { state: 'held' }), 0, 'B holds no claim for it');
    assert.ok(((await health(1)).cluster?.sessions.namesTaken ?? 0) >= 1);
    dup.kill();
  });
});
