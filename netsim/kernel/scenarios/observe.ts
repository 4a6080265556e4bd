/**
 * What scenarios record after they break something: which process logged
 * what and when (relative to the break), and how long until a new
 * connection through the visitor works again.
 */
import type { LabProcess } from '../lab.js';
import { sleep } from '../exec.js';
import { eventTime, events, startTransfer } from './procs.js';
import type { Pair, ScenarioLab } from './scenario-lab.js';

export type { Verdict } from '../../scenarios/outcome.js';

export interface Noticed {
  /** ms after the break. */
  atMs: number;
  event: string;
  /** The event's reason / error / path, when it has one. */
  detail?: string;
}

/** Routine events that say nothing about a failure. */
const ROUTINE = new Set(['connection', 'connection-closed', 'listening', 'provider-started', 'relay-start', 'connect', 'peer-login']);

/** Events each process logged from `since` on (at most `max` each), routine ones left out. */
export function noticedSince(procs: Readonly<Record<string, LabProcess>>, since: number, max = 12): Record<string, Noticed[]> {
  const out: Record<string, Noticed[]> = {};
  for (const [role, p] of Object.entries(procs)) {
    out[role] = events(p)
      .filter((e) => (eventTime(e) ?? 0) >= since && !ROUTINE.has(e.event))
      .slice(0, max)
      .map((e) => {
        const d = e.reason ?? e.error ?? e.path ?? e.code;
        return { atMs: (eventTime(e) ?? since) - since, event: e.event, ...(typeof d === 'string' ? { detail: d } : {}) };
      });
  }
  return out;
}

/** The first time (ms after the break) a process logged `event`, or null. */
export function firstNoticed(n: readonly Noticed[] | undefined, event: string): number | null {
  return n?.find((x) => x.event === event)?.atMs ?? null;
}

export function formatNoticed(n: Readonly<Record<string, Noticed[]>>): string {
  return Object.entries(n)
    .map(([role, xs]) => `${role}: ${xs.length ? xs.map((x) => `+${x.atMs}ms ${x.event}${x.detail ? ` (${x.detail})` : ''}`).join(', ') : 'nothing'}`)
    .join('; ');
}

export interface Recovery {
  ok: boolean;
  /** From the break to the first new connection verified end to end, ms. */
  ms: number | null;
  attempts: number;
  lastError?: string;
}

/**
 * Tries small byte-exact transfers through the visitor until one verifies or
 * `boundMs` after `from` has passed. A connection that arrives while the
 * visitor has no session waits for one (up to 15 s), so one attempt may span
 * the whole reconnection.
 */
export async function recoverWithin(sl: ScenarioLab, pair: Pair, from: number, boundMs: number, bytes = 256 * 1024): Promise<Recovery> {
  let attempts = 0;
  let lastError: string | undefined;
  while (Date.now() - from < boundMs && attempts < 50) {
    attempts++;
    const left = boundMs - (Date.now() - from);
    const t = startTransfer(sl.lab, pair.visitorHost, pair.visitPort, bytes, bytes, Math.max(1000, Math.min(20_000, left)));
    const r = await t.result();
    if (r.ok) return { ok: true, ms: r.endedAt - from, attempts };
    lastError = r.error;
    await sleep(200);
  }
  return { ok: false, ms: null, attempts, ...(lastError ? { lastError } : {}) };
}
