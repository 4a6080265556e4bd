/**
 * Running the real burrow CLI and the scenario traffic inside lab namespaces:
 * JSON log events with their times, bounded waits, the transfer's progress.
 */
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import type { Lab, LabNode, LabProcess } from '../kernel/lab.js';
import { sleep } from '../kernel/exec.js';
import type { StreamProgress, StreamReport } from './stream.js';

const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
/** The burrow CLI next to this module: dist/bin/burrow.js when compiled, bin/burrow.ts under tsx. */
export const BURROW_ENTRY = fileURLToPath(new URL(`../../bin/burrow${EXT}`, import.meta.url));
export const STREAM_ENTRY = fileURLToPath(new URL(`./stream${EXT}`, import.meta.url));

/** Node flags that load a TypeScript loader (tsx), so children run the way we do. */
export function loaderArgs(): string[] {
  const out: string[] = [];
  const a = process.execArgv;
  for (let i = 0; i < a.length; i++) {
    const f = a[i]!;
    if (/^--(import|require|loader|experimental-loader)=/.test(f)) out.push(f);
    else if (/^(--import|--require|-r|--loader|--experimental-loader)$/.test(f) && a[i + 1] !== undefined) out.push(f, a[++i]!);
  }
  return out;
}

export type LogEvent = Record<string, unknown> & { event: string; time?: string; level?: string };

/** The JSON log lines a burrow process wrote to stderr so far. */
export function events(p: LabProcess): LogEvent[] {
  const out: LogEvent[] = [];
  for (const line of p.stderr().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const o = JSON.parse(line) as LogEvent;
      if (typeof o.event === 'string') out.push(o);
    } catch {
      /* a partial line */
    }
  }
  return out;
}

/** Epoch ms of a log event (its `time` field). */
export function eventTime(e: LogEvent): number | null {
  const t = typeof e.time === 'string' ? Date.parse(e.time) : NaN;
  return Number.isFinite(t) ? t : null;
}

/** Events at or after `since` (epoch ms), optionally of some names. */
export function eventsSince(p: LabProcess, since: number, names?: readonly string[]): LogEvent[] {
  return events(p).filter((e) => (eventTime(e) ?? 0) >= since - 1 && (!names || names.includes(e.event)));
}

/**
 * Waits (bounded, polling) for the `nth` (1-based) JSON log event matching
 * `match` at or after `since`. Rejects if the process exits first.
 */
export async function waitEvent(
  p: LabProcess,
  what: string,
  match: string | ((e: LogEvent) => boolean),
  timeoutMs: number,
  o: { since?: number; nth?: number } = {},
): Promise<LogEvent> {
  const pred = typeof match === 'string' ? (e: LogEvent) => e.event === match : match;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hits = events(p).filter((e) => (o.since === undefined || (eventTime(e) ?? 0) >= o.since - 1) && pred(e));
    const hit = hits[(o.nth ?? 1) - 1];
    if (hit) return hit;
    const tail = p.stderr().trim().split('\n').slice(-4).join(' | ');
    if (!p.running) throw new Error(`${what} exited before logging ${typeof match === 'string' ? match : 'the awaited event'}: ${tail}`);
    if (Date.now() > deadline) throw new Error(`${what}: no ${typeof match === 'string' ? `"${match}"` : 'awaited event'} within ${timeoutMs} ms: ${tail}`);
    await sleep(20);
  }
}

/** Whether the process exited within timeoutMs. */
export async function waitExit(p: LabProcess, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
  try {
    return await Promise.race([p.exited.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Starts `node [loader] args…` in a lab node. */
export function spawnNode(lab: Lab, node: LabNode, args: readonly string[]): LabProcess {
  return lab.spawn(node, process.execPath, [...loaderArgs(), ...args]);
}

/** A transfer through a visitor's local port, watched while it runs. */
export class Transfer {
  readonly startedAt = Date.now();
  constructor(
    readonly proc: LabProcess,
    readonly down: number,
    readonly up: number,
    private readonly timeoutMs: number,
  ) {}

  /** The latest progress line, if any. */
  progress(): StreamProgress | null {
    const lines = this.proc.stdout().trim().split('\n');
    for (let i = lines.length - 1; i >= 0; i--) {
      const l = lines[i]!;
      if (!l.startsWith('{"progress"')) continue;
      try {
        return (JSON.parse(l) as { progress: StreamProgress }).progress;
      } catch {
        /* partial */
      }
    }
    return null;
  }

  report(): StreamReport | null {
    const l = this.proc.stdout().split('\n').find((x) => x.startsWith('{"report"'));
    if (!l) return null;
    try {
      return (JSON.parse(l) as { report: StreamReport }).report;
    } catch {
      return null;
    }
  }

  /**
   * Resolves once at least `fraction` of the data has moved each way (received
   * down and sent up), or null if the transfer ended (or timed out) first.
   */
  async reach(fraction: number, timeoutMs: number): Promise<StreamProgress | null> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && this.proc.running) {
      const p = this.progress();
      if (p && p.recv >= fraction * this.down && p.sent >= fraction * this.up) return p;
      await sleep(10);
    }
    return null;
  }

  /** Waits for the client's report (bounded by its own timeout plus a margin). */
  async result(): Promise<StreamReport> {
    await waitExit(this.proc, this.timeoutMs + 10_000);
    const r = this.report();
    if (r) return r;
    await this.proc.stop(500);
    return {
      ok: false, ttfbMs: null, totalMs: null, sentBytes: 0, receivedBytes: 0, downVerified: false, upVerified: false,
      endedAt: Date.now(), error: `the client printed no report: ${this.proc.stderr().slice(-200)}`,
    };
  }
}

let seedCounter = 0;

/** Starts a byte-exact duplex transfer of `down` bytes (provider → visitor) and `up` bytes through 127.0.0.1:port on `host`. */
export function startTransfer(lab: Lab, host: LabNode, port: number, down: number, up: number, timeoutMs: number): Transfer {
  const seed = `${process.pid}-${Date.now()}-${seedCounter++}`;
  const p = spawnNode(lab, host, [STREAM_ENTRY, 'client', '127.0.0.1', String(port), String(down), String(up), seed, String(timeoutMs)]);
  return new Transfer(p, down, up, timeoutMs);
}

export type ScenarioMode = 'stcp' | 'xtcp';

/** A visitor's path name for a punched path ("direct internet", "direct LAN", or plain "direct"). */
export function isDirect(path: string): boolean {
  return path.startsWith('direct');
}

export interface ModeSupport {
  mode: ScenarioMode;
  supported: boolean;
  /** Why not, in the CLI's words. */
  reason?: string;
}

/**
 * Asks the built CLI whether it runs a visitor in this mode: a visitor that
 * logs "listening" does; one that exits with an error does not (this version
 * refuses `--mode xtcp` with "not available in this version yet"). Runs on
 * loopback outside any lab; bounded.
 */
export async function modeSupport(mode: ScenarioMode, timeoutMs = 15_000): Promise<ModeSupport> {
  const args = [
    ...loaderArgs(), BURROW_ENTRY, 'visit', '--mode', mode, '--server', '127.0.0.1:9', '--token', 'probe-token',
    '--name', 'mode-probe', '--secret', 'probe-secret', '--listen', '127.0.0.1:0', '--log-format', 'json',
  ];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let done = false;
    const finish = (r: ModeSupport): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve(r);
    };
    const timer = setTimeout(() => finish({ mode, supported: false, reason: `the visitor neither listened nor refused within ${timeoutMs} ms` }), timeoutMs);
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      err += c;
      if (/"event":"listening"/.test(err)) finish({ mode, supported: true });
    });
    child.stdout.resume();
    child.on('close', () => {
      const msg = /"error":"([^"]*)"/.exec(err)?.[1] ?? err.trim().split('\n').pop() ?? 'exited';
      finish({ mode, supported: false, reason: msg });
    });
  });
}
