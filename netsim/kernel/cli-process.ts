/**
 * Node programs inside lab namespaces, the burrow CLI above all: where the
 * entry points are, the loader flags children need to run the way this
 * process does, the JSON log events a process wrote, bounded waits on them.
 * Used by both kernel-lane runners (matrix/ and scenarios/).
 */
import { fileURLToPath } from 'node:url';
import { at } from '../../src/util/at.js';
import type { Lab, LabNode, LabProcess } from './lab.js';
import { sleep } from './exec.js';

const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
/** The burrow CLI next to this module: dist/bin/burrow.js when compiled, bin/burrow.ts under tsx. */
export const BURROW_ENTRY = fileURLToPath(new URL(`../../bin/burrow${EXT}`, import.meta.url));

/** Node flags that load a TypeScript loader (tsx), so children run the way we do. */
export function loaderArgs(): string[] {
  const out: string[] = [];
  const a = process.execArgv;
  for (let i = 0; i < a.length; i++) {
    const f = at(a, i);
    if (/^--(import|require|loader|experimental-loader)=/.test(f)) out.push(f);
    else if (/^(--import|--require|-r|--loader|--experimental-loader)$/.test(f)) {
      const value = a[i + 1];
      if (value !== undefined) {
        out.push(f, value);
        i++;
      }
    }
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

