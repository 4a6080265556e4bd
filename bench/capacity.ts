/**
 * `npm run bench -- capacity`: what one rendezvous node costs per idle,
 * logged-in provider. A rendezvous process (the CLI, as deployed) and child
 * processes holding N providers each on their own control connection; the
 * node's RSS with none and with all of them (per provider = the
 * difference / N), and its CPU over an idle window (heartbeats only).
 *
 * Then, in the same run, the same N spread over three nodes of a cluster on
 * one Redis (N / 3 each, each provider given its node), per node, next to
 * the single node's figures. That part is skipped without redis-server.
 *
 * Targets (issue 14): N = 15 000, <= 8 KB per provider, <= 10 % of a core,
 * alone and across three nodes.
 */
import { readFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { freePort } from './lib/tcp.js';
import { sibling, startChild } from './lib/processes.js';
import { treeCpuSeconds } from './lib/proc-cpu.js';
import { LocalRedis, redisMissing } from '../netsim/redis-server.js';

const PROVIDERS = Number(process.env.BENCH_PROVIDERS ?? 15_000);
/** Providers per client process: each needs a descriptor per connection. */
const PER_CHILD = 5000;
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 30);
const NODES = 3;

function rssKiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? NaN);
}

export function cli(): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return fileURLToPath(new URL(`../bin/burrow${ext}`, import.meta.url));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const kb = (kib: number) => (kib * 1024) / 1000;

export interface NodeProcess {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly port: number;
}

/** A cluster node's flags (the secret goes by environment, as a deployment would pass it). */
export interface ClusterArgs {
  redis: string;
  nodeId: string;
  secret: string;
}

/** A `burrow rendezvous` CLI process on loopback; resolves once it logs "listening". */
export async function startRendezvous(token: string, cluster?: ClusterArgs): Promise<NodeProcess> {
  const port = await freePort();
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const clusterFlags = cluster ? ['--cluster', cluster.redis, '--node-id', cluster.nodeId] : [];
  const rv = spawn(
    process.execPath,
    [...process.execArgv, ...profile, cli(), 'rendezvous', '--listen', `127.0.0.1:${port}`, '--token', token, '--udp-port', 'off', '--log-format', 'json', ...clusterFlags],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...(cluster ? { BURROW_CLUSTER_SECRET: cluster.secret } : {}) } },
  );
  let log = '';
  const capLine = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the rendezvous did not start in 15 s:\n${log}`)), 15_000);
    const onData = (d: Buffer) => {
      log += d.toString();
      const line = log.split('\n').find((l) => l.includes('"listening"'));
      if (line === undefined) return;
      clearTimeout(timer);
      rv.stderr?.off('data', onData);
      resolve(line);
    };
    rv.stderr?.on('data', onData);
    rv.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the rendezvous exited (${code}):\n${log}`));
    });
  });
  const cap = (JSON.parse(capLine) as { maxConnections?: number }).maxConnections;
  console.log(`rendezvous${cluster ? ` ${cluster.nodeId}` : ''}: connection cap ${cap ?? 'not logged'}`);
  rv.stderr?.resume();
  return { proc: rv, pid: rv.pid ?? 0, port };
}

/** Ends a rendezvous: SIGINT when profiling (so it writes its profile), SIGKILL otherwise. */
export async function stopRendezvous(n: NodeProcess): Promise<void> {
  if (n.proc.exitCode !== null || n.proc.signalCode !== null) return;
  const exited = new Promise((r) => n.proc.once('exit', r));
  n.proc.kill(process.env.BENCH_CPU_PROF ? 'SIGINT' : 'SIGKILL');
  await exited;
}

/** Starts a child holding `count` idle providers on `port`, and waits until all are registered. */
async function providersOn(port: number, token: string, count: number, prefix: string, children: ChildProcess[]): Promise<number> {
  const child = await startChild(sibling('idle-providers'), { port, token, count, prefix });
  children.push(child);
  const r = await new Promise<{ registered: number; taken: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${prefix}: not all registered in 180 s`)), 180_000);
    child.on('message', (m: { type?: string; registered: number; taken: number }) => {
      if (m.type !== 'registered') return;
      clearTimeout(timer);
      resolve(m);
    });
  });
  if (r.taken > 0) console.log(`${prefix}: ${r.taken} names refused as taken`);
  return r.registered;
}

async function stopChildren(children: ChildProcess[]): Promise<void> {
  for (const c of children) c.send('stop');
  await sleep(800);
  for (const c of children) c.kill('SIGKILL');
}

/** Lets the login bursts' garbage go, then each process's CPU over the idle window, in % of one core. */
async function idleCpu(pids: readonly number[]): Promise<number[]> {
  await sleep(10_000);
  const before = treeCpuSeconds(pids);
  await sleep(IDLE_SECONDS * 1000);
  const after = treeCpuSeconds(pids);
  return pids.map((_, i) => (((after[i] ?? 0) - (before[i] ?? 0)) / IDLE_SECONDS) * 100);
}

interface NodeFigures {
  providers: number;
  /** Per provider: (RSS after the idle window - RSS with none) / providers, KB. */
  averageKB: number;
  /** Per provider beyond the first batch (the fixed growth left out), KB. */
  marginalKB: number;
  corePct: number;
}

/** One node, `total` providers in children of PER_CHILD: RSS after each child and after the idle window, idle CPU. */
async function singleNode(total: number): Promise<NodeFigures> {
  const token = randomBytes(16).toString('hex');
  const rv = await startRendezvous(token);
  const children: ChildProcess[] = [];
  try {
    await sleep(2000);
    const rss0 = rssKiB(rv.pid);
    const started = Date.now();
    // One client process after another, the node's RSS read after each: the
    // first figure holds the fixed growth (V8's young generation grows with
    // the login burst), the later ones the cost of each further provider.
    const points: Array<{ providers: number; rssKiB: number }> = [];
    let registered = 0;
    for (let i = 0; registered < total && i < Math.ceil(total / PER_CHILD); i++) {
      registered += await providersOn(rv.port, token, Math.min(PER_CHILD, total - i * PER_CHILD), `p${i}`, children);
      await sleep(5000);
      points.push({ providers: registered, rssKiB: rssKiB(rv.pid) });
    }
    console.log(`registered ${registered} of ${total} in ${((Date.now() - started) / 1000).toFixed(1)} s (connection cap and descriptor limit allowing)`);
    const [corePct = NaN] = await idleCpu([rv.pid]);
    const rss1 = rssKiB(rv.pid);
    const averageKB = kb(rss1 - rss0) / Math.max(1, registered);
    const first = points[0];
    const marginal = first !== undefined && registered > first.providers ? kb(rss1 - first.rssKiB) / (registered - first.providers) : NaN;
    console.log(`rendezvous RSS (MiB) by providers held: 0: ${(rss0 / 1024).toFixed(1)}, ${points.map((p) => `${p.providers}: ${(p.rssKiB / 1024).toFixed(1)}`).join(', ')}; after the idle window ${(rss1 / 1024).toFixed(1)}`);
    console.log(`per provider: ${averageKB.toFixed(2)} KB on average (fixed growth included), ${marginal.toFixed(2)} KB each beyond the first ${first?.providers ?? 0} (target <= 8)`);
    console.log(`rendezvous CPU while idle over ${IDLE_SECONDS} s: ${corePct.toFixed(2)} % of one core (target <= 10)`);
    return { providers: registered, averageKB, marginalKB: marginal, corePct };
  } finally {
    await stopChildren(children);
    await stopRendezvous(rv);
  }
}

/**
 * Three nodes on one Redis, `total` / 3 providers on each, each node's in two
 * halves (one child each; the three nodes' halves log in at once): RSS per
 * provider on average and over the second half, idle CPU, per node.
 */
async function threeNodes(redis: LocalRedis, total: number): Promise<NodeFigures[]> {
  const token = randomBytes(16).toString('hex');
  const secret = randomBytes(24).toString('hex');
  const nodes: NodeProcess[] = [];
  const children: ChildProcess[] = [];
  try {
    for (let i = 1; i <= NODES; i++) nodes.push(await startRendezvous(token, { redis: redis.url, nodeId: `n${i}`, secret }));
    await sleep(2000);
    const rss0 = nodes.map((n) => rssKiB(n.pid));
    const net0 = await redis.netBytes();
    const started = Date.now();
    const per = Math.floor(total / NODES);
    const half = Math.ceil(per / 2);
    const wave = (count: number, tag: string) => Promise.all(nodes.map((n, i) => providersOn(n.port, token, count, `n${i + 1}${tag}`, children)));
    const first = await wave(half, 'a');
    await sleep(5000);
    const rssHalf = nodes.map((n) => rssKiB(n.pid));
    const second = await wave(per - half, 'b');
    const registered = first.map((a, i) => a + (second[i] ?? 0));
    console.log(`registered ${registered.join(' + ')} of ${per * NODES} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const idleFrom = await redis.netBytes();
    const [redisPct = NaN, ...corePct] = await idleCpu([redis.pid, ...nodes.map((n) => n.pid)]);
    const idleTo = await redis.netBytes();
    const rss1 = nodes.map((n) => rssKiB(n.pid));
    const idleSeconds = IDLE_SECONDS + 10;
    console.log(
      `redis: ${redisPct.toFixed(2)} % of one core idle; traffic in/out: logins ${((idleFrom.input - net0.input) / 1e3).toFixed(0)}/${((idleFrom.output - net0.output) / 1e3).toFixed(0)} kB, ` +
        `idle ${((idleTo.input - idleFrom.input) / 1e3 / idleSeconds).toFixed(1)}/${((idleTo.output - idleFrom.output) / 1e3 / idleSeconds).toFixed(1)} kB/s`,
    );
    return nodes.map((n, i) => {
      const providers = registered[i] ?? 0;
      const [r0, rh, r1] = [rss0[i] ?? NaN, rssHalf[i] ?? NaN, rss1[i] ?? NaN];
      const f: NodeFigures = {
        providers,
        averageKB: kb(r1 - r0) / Math.max(1, providers),
        marginalKB: kb(r1 - rh) / Math.max(1, providers - (first[i] ?? 0)),
        corePct: corePct[i] ?? NaN,
      };
      console.log(
        `node n${i + 1}: RSS (MiB) 0: ${(r0 / 1024).toFixed(1)}, ${first[i] ?? 0}: ${(rh / 1024).toFixed(1)}, after the idle window ${(r1 / 1024).toFixed(1)}; ` +
          `per provider ${f.averageKB.toFixed(2)} KB on average, ${f.marginalKB.toFixed(2)} KB beyond the first half; CPU idle ${f.corePct.toFixed(2)} % of one core`,
      );
      return f;
    });
  } finally {
    await stopChildren(children);
    await Promise.all(nodes.map((n) => stopRendezvous(n)));
  }
}

export async function capacity(): Promise<void> {
  console.log(`\n## Capacity: one rendezvous node holding ${PROVIDERS} idle logged-in providers, then ${NODES} cluster nodes ${Math.floor(PROVIDERS / NODES)} each`);
  const one = await singleNode(PROVIDERS);
  const missing = redisMissing();
  if (missing !== null) {
    console.log(`${NODES} cluster nodes: skipped, ${missing}`);
    return;
  }
  console.log(`\n${NODES} nodes on one Redis:`);
  const redis = new LocalRedis(await freePort());
  try {
    await redis.start();
    const three = await threeNodes(redis, PROVIDERS);
    const row = (label: string, f: NodeFigures) =>
      `${label.padEnd(14)} ${String(f.providers).padStart(9)} ${f.averageKB.toFixed(2).padStart(9)} KB ${f.marginalKB.toFixed(2).padStart(9)} KB ${f.corePct.toFixed(2).padStart(8)} %`;
    console.log(`\n${'node'.padEnd(14)} providers  per provider (average, marginal)  idle CPU   (targets <= 8 KB, <= 10 % of a core)`);
    console.log(row('single node', one));
    three.forEach((f, i) => console.log(row(`cluster n${i + 1}`, f)));
  } finally {
    await redis.stop();
  }
}
