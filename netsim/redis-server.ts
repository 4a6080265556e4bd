/**
 * A throwaway redis-server for the cluster tests and benches: unix socket in
 * a temp dir, no persistence (the cluster's state is soft); with `port`, also
 * TCP on 127.0.0.1:port (for nodes run as CLI processes, as a user would:
 * --cluster redis://127.0.0.1:port).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** Why redis-server cannot run here, or null when it can. */
export function redisMissing(): string | null {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return r.error ? `redis-server is not installed (Debian package "redis-server"): ${r.error.message}` : null;
}

export class LocalRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'burrow-redis-'));
  readonly socket = join(this.dir, 'redis.sock');
  private proc: ChildProcess | null = null;

  /** `port` 0 (the default): unix socket only. */
  constructor(readonly port = 0) {}

  /** What a node's --cluster takes: the TCP URL when there is a port, else the socket path. */
  get url(): string {
    return this.port === 0 ? this.socket : `redis://127.0.0.1:${this.port}`;
  }

  /** Starts (or starts again, on the same socket) and waits until it answers PING. */
  async start(): Promise<void> {
    const proc = spawn(
      'redis-server',
      ['--port', String(this.port), ...(this.port === 0 ? [] : ['--bind', '127.0.0.1']), '--unixsocket', this.socket, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', this.dir],
      { stdio: 'ignore' },
    );
    this.proc = proc;
    // Should the test process end without its after-hooks (a crash, an uncaught error), take the server along.
    const reap = (): void => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    };
    process.once('exit', reap);
    proc.once('exit', () => process.removeListener('exit', reap));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
      const c = new Redis(this.socket, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => {});
      try {
        await c.connect();
        if ((await c.ping()) === 'PONG') return;
      } catch {
        // not up yet
      } finally {
        c.disconnect();
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('redis-server did not answer within 10 s');
  }

  /** SIGKILL, and wait until it is gone. */
  async kill(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (p === null || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  /** SIGSTOP / SIGCONT: a Redis that stops answering without closing its connections. */
  signal(sig: 'SIGSTOP' | 'SIGCONT'): void {
    this.proc?.kill(sig);
  }

  /** The running server's process id (0 when it is not running). */
  get pid(): number {
    return this.proc?.pid ?? 0;
  }

  /** INFO stats' total_net_input_bytes and total_net_output_bytes: what crossed Redis. */
  async netBytes(): Promise<{ input: number; output: number }> {
    const c = this.client();
    try {
      const text = await c.info('stats');
      const field = (name: string): number => {
        const m = new RegExp(`^${name}:(\\d+)`, 'm').exec(text);
        if (m?.[1] === undefined) throw new Error(`INFO stats has no ${name}`);
        return Number(m[1]);
      };
      return { input: field('total_net_input_bytes'), output: field('total_net_output_bytes') };
    } finally {
      c.disconnect();
    }
  }

  /** A plain client, for inspecting or tampering with what the nodes wrote. */
  client(): Redis {
    const c = new Redis(this.socket, { maxRetriesPerRequest: 1 });
    c.on('error', () => {});
    return c;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
