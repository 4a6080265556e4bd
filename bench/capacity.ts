/**
 * `npm run bench -- capacity`: what one rendezvous node costs per idle,
 * logged-in provider. A rendezvous process (the CLI, as deployed) and child
 * processes holding N providers each on their own control connection; the
 * node's RSS with none and with all of them (per provider = the
 * difference / N), and its CPU over an idle window (heartbeats only).
 * Targets (issue 14): N = 15 000, <= 8 KB per provider, <= 10 % of a core.
 */
import { readFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { freePort } from './lib/tcp.js';
import { sibling, startChild } from './lib/processes.js';
import { treeCpuSeconds } from './lib/proc-cpu.js';

const PROVIDERS = Number(process.env.BENCH_PROVIDERS ?? 15_000);
/** Providers per client process: each needs a descriptor per connection. */
const PER_CHILD = 5000;
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 30);

function rssKiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? NaN);
}

function cli(): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return fileURLToPath(new URL(`../bin/burrow${ext}`, import.meta.url));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startRendezvous(port: number, token: string): Promise<ChildProcess> {
  const rv = spawn(process.execPath, [...process.execArgv, cli(), 'rendezvous', '--listen', `127.0.0.1:${port}`, '--token', token, '--udp-port', 'off', '--log-format', 'json'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const capLine = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the rendezvous did not start in 15 s:\n${log}`)), 15_000);
    rv.stderr?.on('data', (d: Buffer) => {
      log += d.toString();
      const line = log.split('\n').find((l) => l.includes('"listening"'));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    rv.once('exit', (code) => reject(new Error(`the rendezvous exited (${code}):\n${log}`)));
  });
  const cap = (JSON.parse(capLine) as { maxConnections?: number }).maxConnections;
  console.log(`rendezvous: connection cap ${cap ?? 'not logged'}`);
  rv.stderr?.resume();
  return rv;
}

export async function capacity(): Promise<void> {
  console.log(`\n## Capacity: one rendezvous node holding ${PROVIDERS} idle logged-in providers`);
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const rv = await startRendezvous(port, token);
  const children: ChildProcess[] = [];
  try {
    await sleep(2000);
    const rss0 = rssKiB(rv.pid ?? 0);
    const started = Date.now();
    // One client process after another, the node's RSS read after each: the
    // first figure holds the fixed growth (V8's young generation grows with
    // the login burst), the later ones the cost of each further provider.
    const points: Array<{ providers: number; rssKiB: number }> = [];
    let registered = 0;
    for (let i = 0; registered < PROVIDERS && i < Math.ceil(PROVIDERS / PER_CHILD); i++) {
      const count = Math.min(PER_CHILD, PROVIDERS - i * PER_CHILD);
      const child = await startChild(sibling('idle-providers'), { port, token, count, prefix: `p${i}` });
      children.push(child);
      const r = await new Promise<{ registered: number; taken: number }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`client ${i}: not all registered in 180 s`)), 180_000);
        child.on('message', (m: { type?: string; registered: number; taken: number }) => {
          if (m.type !== 'registered') return;
          clearTimeout(timer);
          resolve(m);
        });
      });
      registered += r.registered;
      await sleep(5000);
      points.push({ providers: registered, rssKiB: rssKiB(rv.pid ?? 0) });
    }
    console.log(`registered ${registered} of ${PROVIDERS} in ${((Date.now() - started) / 1000).toFixed(1)} s (connection cap and descriptor limit allowing)`);
    // Let the login bursts' garbage go, then measure the idle state.
    await sleep(10_000);
    const [cpu0] = treeCpuSeconds([rv.pid ?? 0]);
    await sleep(IDLE_SECONDS * 1000);
    const [cpu1] = treeCpuSeconds([rv.pid ?? 0]);
    const rss1 = rssKiB(rv.pid ?? 0);
    const kb = (kib: number) => (kib * 1024) / 1000;
    const average = kb(rss1 - rss0) / Math.max(1, registered);
    const first = points[0];
    const marginal = first !== undefined && registered > first.providers ? kb(rss1 - first.rssKiB) / (registered - first.providers) : NaN;
    const corePct = (((cpu1 ?? 0) - (cpu0 ?? 0)) / IDLE_SECONDS) * 100;
    console.log(`rendezvous RSS (MiB) by providers held: 0: ${(rss0 / 1024).toFixed(1)}, ${points.map((p) => `${p.providers}: ${(p.rssKiB / 1024).toFixed(1)}`).join(', ')}; after the idle window ${(rss1 / 1024).toFixed(1)}`);
    console.log(`per provider: ${average.toFixed(2)} KB on average (fixed growth included), ${marginal.toFixed(2)} KB each beyond the first ${first?.providers ?? 0} (target <= 8)`);
    console.log(`rendezvous CPU while idle over ${IDLE_SECONDS} s: ${corePct.toFixed(2)} % of one core (target <= 10)`);
  } finally {
    for (const c of children) c.send('stop');
    await sleep(800);
    for (const c of children) c.kill('SIGKILL');
    rv.kill('SIGKILL');
  }
}
