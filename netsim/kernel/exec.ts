/**
 * Running system commands for the kernel lane: always an executable plus an
 * argument array (never a shell string), always with a timeout, output captured.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface RunOptions {
  /** Kill the command (SIGKILL) after this many milliseconds. Default 10 s. */
  timeoutMs?: number;
  /** Written to the command's stdin, then stdin is closed. */
  input?: string;
  /** Resolve instead of rejecting when the exit status is not 0. */
  allowFail?: boolean;
  /** Cap on captured stdout/stderr each (the tail is kept). Default 1 MiB. */
  maxOutput?: number;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** A command exited non-zero, was killed, or timed out. */
export class CommandError extends Error {
  constructor(
    readonly cmd: string,
    readonly args: readonly string[],
    readonly result: RunResult,
  ) {
    const why = result.timedOut
      ? 'timed out'
      : result.signal
        ? `was killed by ${result.signal}`
        : `exited with status ${result.code}`;
    const err = result.stderr.trim().split('\n').slice(-3).join(' | ');
    super(`${cmd} ${args.join(' ')} ${why}${err ? `: ${err}` : ''}`);
    this.name = 'CommandError';
  }
}

/** Appends to a string buffer, keeping at most `max` characters (the tail). */
export class OutputBuffer {
  private text = '';
  truncated = false;
  constructor(private readonly max: number) {}
  push(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.max) {
      this.text = this.text.slice(this.text.length - this.max);
      this.truncated = true;
    }
  }
  toString(): string {
    return this.text;
  }
}

/** Something that wants to know about every child it must wait for or kill. */
export interface ChildTracker {
  add(child: ChildProcess): void;
  delete(child: ChildProcess): void;
}

export function run(
  cmd: string,
  args: readonly string[],
  opts: RunOptions = {},
  tracker?: ChildTracker,
): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const max = opts.maxOutput ?? 1 << 20;
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      reject(e);
      return;
    }
    tracker?.add(child);
    const out = new OutputBuffer(max);
    const err = new OutputBuffer(max);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout!.setEncoding('utf8').on('data', (c: string) => out.push(c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => err.push(c));
    child.stdin!.on('error', () => {
      /* the command may exit before reading its input */
    });
    child.stdin!.end(opts.input ?? '');
    let spawnError: Error | undefined;
    child.on('error', (e) => {
      spawnError = e;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      tracker?.delete(child);
      if (spawnError) {
        reject(spawnError);
        return;
      }
      const result: RunResult = { code, signal, stdout: out.toString(), stderr: err.toString(), timedOut };
      if ((code !== 0 || timedOut) && !opts.allowFail) reject(new CommandError(cmd, args, result));
      else resolve(result);
    });
  });
}

/** Sleeps without a timer (usable in an 'exit' handler). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
