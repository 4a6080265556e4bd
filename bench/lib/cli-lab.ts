/** The real CLI processes (rendezvous, provider, visitor) on loopback, for benchmarks. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { freePort } from './tcp.js';
import { atTeardown } from './teardown.js';

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const CLI = fileURLToPath(new URL(`../../bin/burrow${ext}`, import.meta.url));

/** When a process first logged each event (its own log's clock, ms), and the line. */
type EventTimes = Map<string, { at: number; line: string }>;

function start(args: string[], readyEvent: string, procs: ChildProcess[], events: EventTimes = new Map(), env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const proc = spawn(process.execPath, [...process.execArgv, ...profile, CLI, ...args, '--log-format', 'json'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // Peers on loopback never ask the machine's real router for a mapping.
    env: { ...process.env, BURROW_PORTMAP: 'off', ...env },
  });
  procs.push(proc);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} not ready in 15 s`)), 15_000);
    createInterface({ input: proc.stderr! }).on('line', (line) => {
      const m = /"time":"([^"]+)","level":"\w+","event":"([^"]+)"/.exec(line);
      if (m?.[1] !== undefined && m[2] !== undefined && !events.has(m[2])) events.set(m[2], { at: Date.parse(m[1]), line });
      if (line.includes(`"event":"${readyEvent}"`)) {
        clearTimeout(timer);
        resolve(proc);
      }
    });
    proc.on('exit', (code) => reject(new Error(`${args[0]} exited with ${code}`)));
  });
}

export interface CliLab {
  /** The visitor's local port: connect here to reach the target. */
  port: number;
  /** The three processes, for CPU readings (relay: the provider's node). */
  pids: { visitor: number; relay: number; provider: number };
  /** The visitor's session setup: from its login at the rendezvous to the session's being up (direct-up for xtcp), ms. */
  setupMs: number;
  /** Where the visitor's session went up (its relay link's address, with the node's name when it is one of the lab's). */
  relayVia: string | null;
  /** Starts one more visitor (a fresh session), and returns its session setup like setupMs; it is stopped again. */
  freshSetupMs(): Promise<number>;
  stop(): void;
}

/**
 * Two nodes of a cluster on this Redis: the provider logs in to the first,
 * the visitor to the second, so its session is set up across the bus and
 * its relay link goes to the provider's node.
 */
export interface LabCluster {
  redis: string;
}

/** " (n1)" when a relay label names one of the lab's nodes. */
function nodeOf(label: string, nodes: Record<string, string>): string {
  const addr = /\d+\.\d+\.\d+\.\d+:\d+/.exec(label)?.[0];
  const name = addr === undefined ? undefined : nodes[addr];
  return name === undefined ? '' : ` (${name})`;
}

/** stcp: every byte on the relay; xtcp: resolves once the session is on the punched path. */
export async function startCliLab(targetPort: number, mode: 'stcp' | 'xtcp' = 'stcp', cluster?: LabCluster): Promise<CliLab> {
  const procs: ChildProcess[] = [];
  const stop = atTeardown(() => {
    // SIGINT lets each role stop and write its CPU profile when BENCH_CPU_PROF is set.
    for (const p of procs) p.kill(process.env.BENCH_CPU_PROF ? 'SIGINT' : 'SIGKILL');
  });
  const [rv, rv2, listen] = [await freePort(), await freePort(), await freePort()];
  const token = randomBytes(8).toString('hex');
  const common = ['--token', token, '--name', 'bench', '--secret', 'bench-secret'];
  const visitorEvents: EventTimes = new Map();
  try {
    let visitorServer = rv;
    let rendezvous: ChildProcess;
    if (cluster === undefined) {
      rendezvous = await start(['rendezvous', '--listen', `127.0.0.1:${rv}`, '--token', token], 'listening', procs);
    } else {
      const env = { BURROW_CLUSTER_SECRET: randomBytes(24).toString('hex') };
      const node = (port: number, id: string) => ['rendezvous', '--listen', `127.0.0.1:${port}`, '--token', token, '--cluster', cluster.redis, '--node-id', id];
      rendezvous = await start(node(rv, 'n1'), 'listening', procs, new Map(), env);
      await start(node(rv2, 'n2'), 'listening', procs, new Map(), env);
      visitorServer = rv2;
    }
    const provider = await start(['provide', '--server', `127.0.0.1:${rv}`, ...common, '--mode', mode, '--to', `127.0.0.1:${targetPort}`], 'registered', procs);
    const readyEvent = mode === 'xtcp' ? 'direct-up' : 'session-up';
    const startVisitor = (port: number, events: EventTimes) =>
      start(['visit', '--server', `127.0.0.1:${visitorServer}`, ...common, '--mode', mode, '--listen', `127.0.0.1:${port}`], readyEvent, procs, events);
    const setupOf = (events: EventTimes): number => (events.get(readyEvent)?.at ?? NaN) - (events.get('rendezvous-connected')?.at ?? NaN);
    const visitor = await startVisitor(listen, visitorEvents);
    const setupMs = setupOf(visitorEvents);
    const freshSetupMs = async (): Promise<number> => {
      const events: EventTimes = new Map();
      const v = await startVisitor(await freePort(), events);
      v.kill('SIGKILL');
      return setupOf(events);
    };
    const up = visitorEvents.get('session-up')?.line;
    const relayVia = up === undefined ? null : ((JSON.parse(up) as { via?: string }).via ?? null);
    const nodes = cluster === undefined ? { [`127.0.0.1:${rv}`]: 'the rendezvous' } : { [`127.0.0.1:${rv}`]: 'n1', [`127.0.0.1:${rv2}`]: 'n2' };
    const pid = (p: ChildProcess): number => {
      if (p.pid === undefined) throw new Error('a burrow process has no pid');
      return p.pid;
    };
    return { port: listen, pids: { visitor: pid(visitor), relay: pid(rendezvous), provider: pid(provider) }, setupMs, relayVia: relayVia === null ? null : `${relayVia}${nodeOf(relayVia, nodes)}`, freshSetupMs, stop };
  } catch (err) {
    stop();
    throw err;
  }
}
