/**
 * A throwaway redis-server for the cluster benches: loopback TCP on a free
 * port, no persistence (the cluster's state is soft), gone with the bench.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './tcp.js';

/** Why redis-server cannot run here, or null when it can. */
export function redisMissing(): string | null {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return r.error ? `redis-server is not installed (Debian package "redis-server")` : null;
}

export interface BenchRedis {
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  readonly pid: number;
  /** INFO stats' total_net_input_bytes and total_net_output_bytes. */
  netBytes(): Promise<{ input: number; output: number }>;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<BenchRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'burrow-bench-redis-'));
  const proc: ChildProcess = spawn(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir, '--maxclients', '1000'],
    { stdio: 'ignore' },
  );
  const reap = (): void => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };
  process.once('exit', reap);
  const url = `redis://127.0.0.1:${port}`;
  let client: Redis | null = null;
  const stop = async (): Promise<void> => {
    client?.disconnect();
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    }
    process.removeListener('exit', reap);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (client === null) {
    const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    c.on('error', () => {});
    try {
      await c.connect();
      if ((await c.ping()) === 'PONG') client = c;
    } catch {
      c.disconnect();
    }
    if (client !== null) break;
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(proc.exitCode !== null ? `redis-server exited with ${proc.exitCode}` : 'redis-server did not answer within 10 s');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const info = client;
  return {
    url,
    pid: proc.pid ?? 0,
    async netBytes() {
      const text = await info.info('stats');
      const field = (name: string) => Number(new RegExp(`${name}:(\\d+)`).exec(text)?.[1] ?? NaN);
      return { input: field('total_net_input_bytes'), output: field('total_net_output_bytes') };
    },
    stop,
  };
}
