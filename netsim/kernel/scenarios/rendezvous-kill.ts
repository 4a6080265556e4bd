/**
 * Scenario: the rendezvous dies (SIGKILL) while a transfer runs between the
 * visitor (site B) and the provider (site A), and comes back after a short
 * outage at the same address.
 */
import { sleep } from '../exec.js';
import { firstNoticed, formatNoticed, noticedSince, recoverWithin, type Noticed, type Recovery, type Verdict } from './observe.js';
import { eventsSince, isDirect, startTransfer, waitExit, type ScenarioMode } from './procs.js';
import type { ScenarioLab } from './scenario-lab.js';
import type { StreamReport } from './stream.js';
import { SCENARIOS, expectationTexts, faultOf } from '../../scenarios/spec.js';

export interface KillOptions {
  /** Bytes each way. */
  size: number;
  /** Kill once this fraction has moved each way. Default: the spec's. */
  at?: number;
  /** Time the rendezvous stays dead. Default: the spec's. */
  downtimeMs?: number;
  /** After the restart, a new connection must work within this long. Default: the spec's. */
  recoveryBoundMs?: number;
  /** Both peers must log the loss within this long after the kill. Default: the spec's. */
  noticeBoundMs?: number;
  transferTimeoutMs?: number;
}

export interface KillResult {
  scenario: 'rendezvous-kill';
  mode: ScenarioMode;
  size: number;
  path: string;
  killedAtFraction: number | null;
  transfer: StreamReport;
  survived: boolean;
  /** Kill → the client saw its connection fail, ms. */
  clientFailedAfterMs: number | null;
  /** What each process logged after the kill (ms after it). */
  noticed: Record<string, Noticed[]>;
  /** Restart → the provider registered again / the visitor set up a new session (null: none needed or none yet), ms. */
  reRegisteredMs: number | null;
  sessionAgainMs: number | null;
  /** Measured from the restart. */
  recovery: Recovery;
  verdict: Verdict;
}

/**
 * stcp relays every byte through the rendezvous, so the transfer in flight
 * dies with it; what it must do is say so in the logs (both peers: the
 * rendezvous is lost, the session closed) and come back on its own once the
 * rendezvous is back. xtcp's direct path does not touch the rendezvous: the
 * transfer must complete.
 */
export const KILL_EXPECTATION: Record<ScenarioMode, string> = expectationTexts('rendezvous-kill');
const SPEC = SCENARIOS['rendezvous-kill'];
const FAULT = faultOf('rendezvous-kill', 'rendezvous-down');

export async function rendezvousKillScenario(sl: ScenarioLab, o: KillOptions): Promise<KillResult> {
  const timeout = o.transferTimeoutMs ?? 60_000;
  const expect = SPEC.expect[sl.mode];
  const noticeBound = o.noticeBoundMs ?? expect.notice?.withinMs ?? 5000;
  const recoveryBound = o.recoveryBoundMs ?? expect.recoverWithinMs ?? 20_000;
  const pair = await sl.startPair(sl.siteB);
  try {
    const t = startTransfer(sl.lab, pair.visitorHost, pair.visitPort, o.size, o.size, timeout);
    const reached = await t.reach(o.at ?? FAULT.atFraction, timeout);
    const old = sl.rendezvous;
    const killAt = Date.now();
    old.killSync();
    await waitExit(old, 5000);
    const transfer = await t.result();
    await sleep(Math.max(0, (o.downtimeMs ?? FAULT.restartAfterMs) - (Date.now() - killAt)));
    const restartAt = Date.now();
    await sl.startRendezvous();
    // A connection right away: it waits in the visitor for a session if there is none (stcp), or
    // goes over the session that outlived the rendezvous (xtcp, direct path).
    const recovery = await recoverWithin(sl, pair, restartAt, recoveryBound);
    const noticed = noticedSince({ visitor: pair.visitor, provider: pair.provider }, killAt);
    const reg = eventsSince(pair.provider, restartAt, ['registered'])[0] ?? null;
    const up = eventsSince(pair.visitor, restartAt, ['session-up'])[0] ?? null;
    const at = (e: { time?: string } | null): number | null => (e && typeof e.time === 'string' ? Date.parse(e.time) - restartAt : null);

    const failures: string[] = [];
    if (reached === null) failures.push('the transfer ended before the kill (make it larger)');
    if (expect.startsDirect && !isDirect(pair.path)) failures.push(`the session was not on a direct path when the transfer started (path: ${pair.path})`);
    if (expect.transfer === 'byte-exact' && !transfer.ok) failures.push(`the transfer was lost (${transfer.error}) although the direct path does not need the rendezvous`);
    if (expect.transfer === 'lost' && transfer.ok && reached !== null) failures.push('the transfer completed although its relay was killed (was it relayed?)');
    if (!transfer.ok && transfer.error?.startsWith('timed out')) failures.push('the transfer hung until the client\'s timeout instead of failing');
    for (const role of ['visitor', 'provider'] as const) {
      for (const event of expect.notice?.events ?? []) {
        const at = firstNoticed(noticed[role], event);
        if (at === null || at > noticeBound) failures.push(`the ${role} did not log ${event} within ${noticeBound} ms`);
      }
    }
    if (!recovery.ok) failures.push(`no new connection worked within ${recoveryBound} ms of the restart (${recovery.attempts} attempts, last: ${recovery.lastError})`);
    return {
      scenario: 'rendezvous-kill',
      mode: sl.mode,
      size: o.size,
      path: pair.path,
      killedAtFraction: reached ? reached.recv / o.size : null,
      transfer,
      survived: transfer.ok,
      clientFailedAfterMs: transfer.ok ? null : transfer.endedAt - killAt,
      noticed,
      reRegisteredMs: at(reg),
      sessionAgainMs: at(up),
      recovery,
      verdict: { ok: failures.length === 0, expected: KILL_EXPECTATION[sl.mode], failures },
    };
  } finally {
    await pair.stop();
  }
}

export function describeKill(r: KillResult): string[] {
  return [
    `path ${r.path}; SIGKILL to the rendezvous at ${r.killedAtFraction === null ? '?' : Math.round(r.killedAtFraction * 100)}%: transfer ` +
      `${r.survived ? `completed (${r.transfer.totalMs?.toFixed(0)} ms)` : `lost after +${r.clientFailedAfterMs} ms (${r.transfer.error})`}; ${formatNoticed(r.noticed)}`,
    `restart: provider registered again ${r.reRegisteredMs === null ? 'not yet' : `+${r.reRegisteredMs} ms`}, ` +
      `visitor ${r.sessionAgainMs === null ? 'set up no new session' : `session again +${r.sessionAgainMs} ms`}, ` +
      `new connection ${r.recovery.ok ? `ok +${r.recovery.ms} ms (${r.recovery.attempts} attempt(s))` : 'FAILED'}`,
  ];
}
