/**
 * The scenarios' traffic inside lab namespaces (a transfer's progress and
 * report) and which modes the built CLI runs. Starting processes and reading
 * their JSON logs is ../cli-process.ts.
 */
import { at } from '../../../src/util/at.js';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import type { Lab, LabNode, LabProcess } from '../lab.js';
import { sleep } from '../exec.js';
import { BURROW_ENTRY, loaderArgs, spawnNode, waitExit } from '../cli-process.js';
import type { StreamProgress, StreamReport } from './stream.js';

const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
export const STREAM_ENTRY = fileURLToPath(new URL(`./stream${EXT}`, import.meta.url));

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
      const l = at(lines, i);
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

export { BURROW_ENTRY, events, eventTime, eventsSince, spawnNode, waitEvent, waitExit, type LogEvent } from '../cli-process.js';

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
