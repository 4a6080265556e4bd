/**
 * What the in-process (virtual) scenarios share: a lab in xtcp mode with the
 * direct path up, a transfer with a hook that fires once mid-transfer, the
 * path-related log events in a compact form, and a bounded teardown.
 * Everything runs on the lab's virtual clock; every wait is bounded in
 * virtual time.
 */
import { performance } from 'node:perf_hooks';
import { VirtualSessionLab, type VirtualLabOptions } from '../lab.js';
import type { LogEvent } from '../log.js';
import type { ClientResult } from '../../matrix/duplex-check.js';

export const MIB = 1024 * 1024;

/** The log events that tell the story of a session's path. */
export const PATH_EVENTS: ReadonlySet<string> = new Set([
  'session-up',
  'punch-start',
  'punch-failed',
  'direct-up',
  'direct-lost',
  'keepalive-shortened',
  'path',
  'connection',
  'relay-lost',
  'rendezvous-lost',
  'session-closed',
]);

/** One log line, short: "t=1346.0 visitor direct-lost reason=…". */
export function eventLine(e: LogEvent): string {
  const skip = new Set(['component', 'service', 'conn', 'timeline']);
  const fields = Object.entries(e.fields)
    .filter(([k]) => !skip.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `t=${e.t.toFixed(1)} ${String(e.fields.component)} ${e.event} ${fields}`.trimEnd();
}

export interface VirtualScenarioBase {
  seed: number;
  /** Virtual ms from the visitor's session up to the first direct path (null: none). */
  directMs: number | null;
  /** The peers' path-related log events (PATH_EVENTS), in order. */
  events: LogEvent[];
  /** Virtual ms at the end of the run, and the wall-clock ms it took. */
  virtualEndMs: number;
  realMs: number;
  /** Virtual time the fault hit (null: it never did, or the scenario has none). */
  faultAt?: number | null;
  /** Virtual TCP sockets and listeners left after teardown (should be 0). */
  leftSockets: number;
  leftListeners: number;
  error?: string;
}

/** What every scenario with a transfer broken mid-way reports about the transfer. */
export interface MidTransferResult extends VirtualScenarioBase {
  /** Bytes each way. */
  sizeBytes: number;
  upVerified: boolean;
  downVerified: boolean;
  /** Virtual ms the whole transfer took (null: it did not complete). */
  transferMs: number | null;
  transferError?: string;
}

/** The transfer's part of a MidTransferResult. */
export function transferPart(t: HookedTransfer, sizeBytes: number): Omit<MidTransferResult, keyof VirtualScenarioBase> {
  return {
    sizeBytes,
    upVerified: t.result.upVerified,
    downVerified: t.result.downVerified,
    transferMs: t.result.totalMs,
    ...(t.result.ok ? {} : { transferError: t.result.error ?? 'failed' }),
  };
}

/** Starts a lab in xtcp mode and waits for its session and its punch (bounded); throws when either does not come. */
export async function startDirect(opts: Omit<VirtualLabOptions, 'mode'>): Promise<{ lab: VirtualSessionLab; directMs: number | null }> {
  const lab = await VirtualSessionLab.start({ ...opts, mode: 'xtcp' });
  if (!(await lab.waitSession(60_000))) {
    const why = lab.fatal ?? 'no session within 60 s (virtual)';
    await lab.teardown();
    throw new Error(why);
  }
  const directMs = await lab.waitPunchSettled(20_000);
  return { lab, directMs };
}

export interface HookedTransfer {
  result: ClientResult;
  /** Virtual time the transfer started, the hook fired (null: never), and it ended. */
  startedAt: number;
  hookAt: number | null;
  endedAt: number;
  /** Bytes of the download received when the hook fired. */
  receivedAtHook: number | null;
}

/**
 * One request through the tunnel; `hook` runs once, when the client has
 * received `atFraction` of the download; `watch` runs after every scheduler
 * step with the bytes received so far. Bounded by `limitMs` of virtual time.
 */
export async function transferWithHook(
  lab: VirtualSessionLab,
  opts: { atFraction: number; hook: () => void; limitMs: number; watch?: (received: number) => void },
): Promise<HookedTransfer> {
  const startedAt = lab.now;
  let hookAt: number | null = null;
  let receivedAtHook: number | null = null;
  const size = lab.down.data.length;
  const result = await lab.requestToEnd(opts.limitMs, (run) => {
    if (hookAt === null && run.received >= size * opts.atFraction) {
      hookAt = lab.now;
      receivedAtHook = run.received;
      opts.hook();
    }
    opts.watch?.(run.received);
  });
  return { result, startedAt, hookAt, endedAt: lab.now, receivedAtHook };
}

/** Tears the lab down and fills in the common part of a result. */
export async function finish(lab: VirtualSessionLab, seed: number, directMs: number | null, real0: number, error?: string): Promise<VirtualScenarioBase> {
  const { leftSockets, leftListeners } = await lab.teardown();
  return {
    seed,
    directMs,
    events: lab.events.filter((e) => e.fields.component !== 'rendezvous' && PATH_EVENTS.has(e.event)),
    virtualEndMs: lab.now,
    realMs: performance.now() - real0,
    leftSockets,
    leftListeners,
    ...(error !== undefined ? { error } : {}),
  };
}

/** The first event of a component after `since` (inclusive), if any. */
export function firstAfter(events: readonly LogEvent[], component: string, event: string, since: number): LogEvent | undefined {
  return events.find((e) => e.t >= since && e.fields.component === component && e.event === event);
}
