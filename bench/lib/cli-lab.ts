/** The real CLI processes (rendezvous, provider, visitor) on loopback, for benchmarks. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { freePort } from './tcp.js';
import { atTeardown } from './teardown.js';

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const CLI = fileURLToPath(new URL(`../../bin/burrow${ext}`, import.meta.url));

function start(args: string[], readyEvent: string, procs: ChildProcess[]): Promise<ChildProcess> {
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const proc = spawn(process.execPath, [...process.execArgv, ...profile, CLI, ...args, '--log-format', 'json'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // Peers on loopback never ask the machine's real router for a mapping.
    env: { ...process.env, BURROW_PORTMAP: 'off' },
  });
  procs.push(proc);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} not ready in 15 s`)), 15_000);
    createInterface({ input: proc.stderr! }).on('line', (line) => {
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
  /** The three processes, for CPU readings. */
  pids: { visitor: number; relay: number; provider: number };
  stop(): void;
}

/** stcp: every byte on the relay; xtcp: resolves once the session is on the punched path. */
export async function startCliLab(targetPort: number, mode: 'stcp' | 'xtcp' = 'stcp'): Promise<CliLab> {
  const procs: ChildProcess[] = [];
  const stop = atTeardown(() => {
    // SIGINT lets each role stop and write its CPU profile when BENCH_CPU_PROF is set.
    for (const p of procs) p.kill(process.env.BENCH_CPU_PROF ? 'SIGINT' : 'SIGKILL');
  });
  const [rv, listen] = [await freePort(), await freePort()];
  const token = randomBytes(8).toString('hex');
  const common = ['--server', `127.0.0.1:${rv}`, '--token', token, '--name', 'bench', '--secret', 'bench-secret'];
  try {
    const rendezvous = await start(['rendezvous', '--listen', `127.0.0.1:${rv}`, '--token', token], 'listening', procs);
    const provider = await start(['provide', ...common, '--mode', mode, '--to', `127.0.0.1:${targetPort}`], 'registered', procs);
    const visitor = await start(['visit', ...common, '--mode', mode, '--listen', `127.0.0.1:${listen}`], mode === 'xtcp' ? 'direct-up' : 'session-up', procs);
    const pid = (p: ChildProcess): number => {
      if (p.pid === undefined) throw new Error('a burrow process has no pid');
      return p.pid;
    };
    return { port: listen, pids: { visitor: pid(visitor), relay: pid(rendezvous), provider: pid(provider) }, stop };
  } catch (err) {
    stop();
    throw err;
  }
}
