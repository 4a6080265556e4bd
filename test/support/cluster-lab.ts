/**
 * A cluster of rendezvous nodes on one real redis-server, everything on
 * loopback and run as a user runs it: `burrow rendezvous --cluster ...`,
 * `burrow provide`, `burrow visit` as child processes (test/support/cli.ts).
 * `close()` takes every process and Redis down, stopped ones included.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RendezvousHealth } from '../../rendezvous/health.js';
import { LocalRedis } from '../../netsim/redis-server.js';
import { CHANNEL_PREFIX, CLAIM_PREFIX, LEASE_PREFIX } from '../../rendezvous/cluster/keys.js';
import { ProcessGroup, freePort, type BurrowProcess } from './cli.js';
import { exchange, sha256 } from './client.js';
import { duplexTarget, type Target } from './targets.js';

export { redisMissing } from '../../netsim/redis-server.js';
export { waitFor } from '../cluster/support.js';

export type Mode = 'stcp' | 'xtcp';

export interface LabNode {
  readonly id: string;
  readonly port: number;
  readonly metricsPort: number;
  /** HOST:PORT, what peers give to --server. */
  readonly addr: string;
  proc: BurrowProcess;
  stopped: boolean;
}

export interface Peer {
  proc: BurrowProcess;
  /** The visitor's local port (0 for a provider). */
  port: number;
}

export class ClusterLab {
  readonly group = new ProcessGroup();
  readonly token = `tok-${randomBytes(6).toString('hex')}`;
  readonly dir = mkdtempSync(join(tmpdir(), 'burrow-cluster-lab-'));
  readonly secretFile = join(this.dir, 'cluster-secret');
  readonly nodes = new Map<string, LabNode>();
  /** The test's own Redis connection (over the unix socket), made on first use; it reconnects by itself. */
  private client: Redis | null = null;
  private readonly ports = new Set<number>();
  private constructor(readonly redis: LocalRedis) {
    writeFileSync(this.secretFile, randomBytes(24).toString('hex') + '\n', { mode: 0o600 });
  }

  /** Redis on a free loopback port, then the nodes (in parallel), each joined and listening. */
  static async start(ids: readonly string[]): Promise<ClusterLab> {
    const lab = new ClusterLab(new LocalRedis(await freePort()));
    try {
      await lab.redis.start();
      await Promise.all(ids.map((id) => lab.startNode(id)));
      return lab;
    } catch (err) {
      await lab.close();
      throw err;
    }
  }

  node(id: string): LabNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id} in the lab`);
    return n;
  }

  /**
   * Starts node `id` (again, on the same ports, if it ran before) and waits
   * until it listens. `secretFile` overrides the cluster's shared secret.
   */
  async startNode(id: string, opts: { secretFile?: string } = {}): Promise<LabNode> {
    const old = this.nodes.get(id);
    const port = old?.port ?? (await this.newPort());
    const metricsPort = old?.metricsPort ?? (await this.newPort());
    const proc = this.group.spawn(`node ${id}`, [
      'rendezvous', '--listen', `127.0.0.1:${port}`, '--token', this.token,
      '--cluster', this.redis.url, '--node-id', id, '--cluster-secret-file', opts.secretFile ?? this.secretFile,
      '--metrics', `127.0.0.1:${metricsPort}`,
    ]);
    const node: LabNode = { id, port, metricsPort, addr: `127.0.0.1:${port}`, proc, stopped: false };
    this.nodes.set(id, node);
    await proc.waitEvent('listening', 20_000);
    return node;
  }

  /** A secret file other than the cluster's, for a node that must not get in. */
  otherSecretFile(): string {
    const f = join(this.dir, `other-secret-${randomBytes(4).toString('hex')}`);
    writeFileSync(f, randomBytes(24).toString('hex') + '\n', { mode: 0o600 });
    return f;
  }

  signal(id: string, sig: 'SIGSTOP' | 'SIGCONT' | 'SIGKILL'): void {
    const n = this.node(id);
    if (!n.proc.running) return;
    n.proc.proc.kill(sig);
    n.stopped = sig === 'SIGSTOP';
  }

  async provide(name: string, secret: string, servers: readonly string[], to: number, mode: Mode): Promise<Peer> {
    const proc = this.group.spawn(`provider ${name}`, [
      'provide', '--server', this.servers(servers), '--token', this.token, '--name', name, '--secret', secret, '--to', `127.0.0.1:${to}`, '--mode', mode,
    ]);
    await proc.waitEvent('registered', 20_000);
    return { proc, port: 0 };
  }

  async visit(name: string, secret: string, servers: readonly string[], mode: Mode): Promise<Peer> {
    const port = await this.newPort();
    const proc = this.group.spawn(`visitor ${name}`, [
      'visit', '--server', this.servers(servers), '--token', this.token, '--name', name, '--secret', secret, '--listen', `127.0.0.1:${port}`, '--mode', mode,
    ]);
    await proc.waitEvent('listening', 20_000);
    return { proc, port };
  }

  /** The node id whose address `server` (HOST:PORT, as peers log it) is. */
  nodeAt(server: unknown): string | undefined {
    return [...this.nodes.values()].find((n) => n.addr === server)?.id;
  }

  /** One Prometheus sample of a node's /metrics: the sum over every series of `name` whose labels contain `labels`. */
  async metric(id: string, name: string, labels = ''): Promise<number | null> {
    const res = await fetch(`http://127.0.0.1:${this.node(id).metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    let sum: number | null = null;
    for (const line of text.split('\n')) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
      if (m === null || m[1] !== name || !(m[2] ?? '').includes(labels)) continue;
      sum = (sum ?? 0) + Number(m[3]);
    }
    return sum;
  }

  /** A node's GET /health: its status (200 healthy, 503 not) and the JSON body (rendezvous/health.ts's RendezvousHealth). */
  async health(id: string): Promise<{ status: number; body: RendezvousHealth }> {
    const res = await fetch(`http://127.0.0.1:${this.node(id).metricsPort}/health`, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: (await res.json()) as RendezvousHealth };
  }

  /** The node a service's claim in Redis names, or null when there is no claim key. */
  async claimOwner(service: string): Promise<string | null> {
    const v = await this.redisCmd(['GET', CLAIM_PREFIX + service]);
    return typeof v === 'string' ? (v.split(' ')[0] ?? null) : null;
  }

  /** Whether node `id`'s lease key is in Redis. */
  async leaseLive(id: string): Promise<boolean> {
    return (await this.redisCmd(['EXISTS', LEASE_PREFIX + id])) === 1;
  }

  /** Publishes `frame` on node `id`'s bus channel, as anyone with Redis access could; resolves with the receiver count. */
  async publish(id: string, frame: Buffer): Promise<unknown> {
    return this.redisCmd(['PUBLISH', CHANNEL_PREFIX + id, frame]);
  }

  /** Redis's own count of bytes in and out over every client connection since it started. */
  async redisTraffic(): Promise<number> {
    const b = await withTimeout(this.redis.netBytes(), 5000, 'redis INFO stats');
    return b.input + b.output;
  }

  /** The redis-server's run id: a new one at every start. */
  async redisRunId(): Promise<string> {
    const m = /^run_id:(\w+)/m.exec(String(await this.redisCmd(['INFO', 'server'])));
    if (m?.[1] === undefined) throw new Error('INFO server has no run_id');
    return m[1];
  }

  /** One command (bounded: it fails after a few seconds, e.g. while Redis restarts). */
  async redisCmd(args: [string, ...(string | Buffer)[]]): Promise<unknown> {
    this.client ??= this.redis.client();
    const [cmd, ...rest] = args;
    return withTimeout(this.client.call(cmd, ...rest), 5000, `redis ${cmd}`);
  }

  /** Every process (stopped ones are continued first), Redis and the temp dir. */
  async close(): Promise<void> {
    for (const n of this.nodes.values()) if (n.stopped) this.signal(n.id, 'SIGCONT');
    this.client?.disconnect();
    await this.group.killAll();
    await this.redis.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A free port not handed out before in this lab (nodes start in parallel; each also binds UDP port+1). */
  private async newPort(): Promise<number> {
    for (let i = 0; i < 20; i++) {
      const p = await freePort();
      if (![p, p - 1, p + 1].some((q) => this.ports.has(q))) {
        this.ports.add(p);
        return p;
      }
    }
    throw new Error('no free port');
  }

  private servers(ids: readonly string[]): string {
    return ids.map((id) => this.node(id).addr).join(',');
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** A local TCP service that sends the same known bytes to every client (and hashes what each uploads). */
export interface KnownService {
  readonly target: Target;
  readonly download: Buffer;
  readonly downloadSha: string;
  /** SHA-256 of each finished upload, in order. */
  readonly uploads: string[];
}

export async function knownService(bytes: number): Promise<KnownService> {
  const download = randomBytes(bytes);
  const uploads: string[] = [];
  return { target: await duplexTarget(download, uploads), download, downloadSha: sha256(download), uploads };
}

/**
 * One fresh connection through a visitor's port: sends `uploadBytes` random
 * bytes, reads until the service closes. Resolves whether the whole download
 * arrived byte-exact and the upload arrived too; never rejects.
 */
export async function transferOk(port: number, svc: KnownService, timeoutMs: number, uploadBytes = 1000): Promise<boolean> {
  const upload = randomBytes(uploadBytes);
  try {
    const r = await exchange(port, upload, timeoutMs);
    return r.bytes === svc.download.length && r.sha256 === svc.downloadSha && svc.uploads.includes(sha256(upload));
  } catch {
    return false;
  }
}
