/**
 * Runs the real `burrow` CLI in child processes for end-to-end tests, with
 * JSON logs collected and a registry that kills every process a test started,
 * whatever happens to the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import net from 'node:net';
import { once } from 'node:events';

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
export const CLI = fileURLToPath(new URL(`../../bin/burrow${ext}`, import.meta.url));

export type LogEvent = Record<string, unknown> & { event: string; level: string };

export class BurrowProcess {
  readonly events: LogEvent[] = [];
  readonly stderrText: string[] = [];
  stdout = '';
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  private readonly exited: Promise<void>;
  private waiters: Array<() => void> = [];

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    createInterface({ input: proc.stderr! }).on('line', (line) => {
      this.stderrText.push(line);
      try {
        const ev = JSON.parse(line) as LogEvent;
        if (typeof ev.event === 'string') this.events.push(ev);
      } catch {
        // plain-text output (usage errors): kept in stderrText
      }
      this.wake();
    });
    proc.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        this.wake();
        resolve();
      });
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get running(): boolean {
    return this.exitCode === null && this.exitSignal === null;
  }

  /** Resolves with the first event (from `after` on) matching; rejects on timeout or exit. */
  waitFor(pred: (e: LogEvent) => boolean, what: string, timeoutMs = 15_000, after = 0): Promise<LogEvent> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.events.slice(after).find(pred);
        if (hit) return done(() => resolve(hit));
        if (!this.running) done(() => reject(new Error(`${this.name} exited (${this.exitCode ?? this.exitSignal}) before ${what}; stderr:\n${this.stderrText.slice(-15).join('\n')}`)));
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`${this.name}: timed out waiting for ${what}; stderr:\n${this.stderrText.slice(-15).join('\n')}`))),
        timeoutMs,
      );
      const done = (fn: () => void) => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        fn();
      };
      this.waiters.push(check);
      check();
    });
  }

  waitEvent(event: string, timeoutMs?: number, after = 0): Promise<LogEvent> {
    return this.waitFor((e) => e.event === event, `"${event}"`, timeoutMs, after);
  }

  count(event: string): number {
    return this.events.filter((e) => e.event === event).length;
  }

  async waitExit(timeoutMs = 15_000): Promise<number | null> {
    const timer = setTimeout(() => this.kill(), timeoutMs);
    await this.exited;
    clearTimeout(timer);
    return this.exitCode;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.running) this.proc.kill(signal);
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** Every process a test file starts; `killAll` in an after() hook. */
export class ProcessGroup {
  private readonly procs: BurrowProcess[] = [];

  spawn(name: string, args: string[], opts: { json?: boolean; env?: NodeJS.ProcessEnv } = {}): BurrowProcess {
    const json = opts.json ?? true;
    const proc = spawn(process.execPath, [...process.execArgv, CLI, ...args, ...(json ? ['--log-format', 'json'] : [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // BURROW_PORTMAP=off: peers on loopback never ask the machine's real router for a mapping.
      env: { ...process.env, BURROW_TOKEN: '', BURROW_SECRET: '', BURROW_SERVER: '', BURROW_PORTMAP: 'off', ...opts.env },
    });
    const p = new BurrowProcess(name, proc);
    this.procs.push(p);
    return p;
  }

  async killAll(): Promise<void> {
    for (const p of this.procs) p.kill();
    await Promise.all(this.procs.map((p) => p.waitExit(5_000)));
  }
}

export async function freePort(): Promise<number> {
  const s = net.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

export interface Lab {
  rvPort: number;
  token: string;
  rendezvous: BurrowProcess;
  startRendezvous(extra?: string[]): Promise<BurrowProcess>;
  provide(name: string, secret: string, to: number, extra?: string[]): Promise<BurrowProcess>;
  visit(name: string, secret: string, extra?: string[]): Promise<{ proc: BurrowProcess; port: number }>;
}

/** A rendezvous on loopback plus helpers to start providers and visitors against it. */
/**
 * `peerArgs` go to every provider and visitor (e.g. ['--mode', 'stcp'] for
 * the relay-path tests; the CLI's default mode is xtcp).
 */
export async function startLab(group: ProcessGroup, opts: { token?: string; rendezvousArgs?: string[]; peerArgs?: string[] } = {}): Promise<Lab> {
  const peerArgs = opts.peerArgs ?? [];
  const rvPort = await freePort();
  const token = opts.token ?? 'lab-token-' + rvPort;
  const lab: Lab = {
    rvPort,
    token,
    rendezvous: null as unknown as BurrowProcess,
    async startRendezvous(extra: string[] = opts.rendezvousArgs ?? []) {
      const rv = group.spawn('rendezvous', ['rendezvous', '--listen', `127.0.0.1:${rvPort}`, '--token', token, ...extra]);
      await rv.waitEvent('listening');
      lab.rendezvous = rv;
      return rv;
    },
    async provide(name, secret, to, extra = []) {
      const p = group.spawn(`provider ${name}`, [
        'provide', '--server', `127.0.0.1:${rvPort}`, '--token', token, '--name', name, '--secret', secret, '--to', `127.0.0.1:${to}`, ...peerArgs, ...extra,
      ]);
      await p.waitEvent('registered');
      return p;
    },
    async visit(name, secret, extra = []) {
      const port = await freePort();
      const v = group.spawn(`visitor ${name}`, [
        'visit', '--server', `127.0.0.1:${rvPort}`, '--token', token, '--name', name, '--secret', secret, '--listen', `127.0.0.1:${port}`, ...peerArgs, ...extra,
      ]);
      await v.waitEvent('listening');
      return { proc: v, port };
    },
  };
  await lab.startRendezvous();
  return lab;
}
