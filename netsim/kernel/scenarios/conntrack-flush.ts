/**
 * Scenario: `conntrack -F` in a NAT router while a large transfer runs
 * between the visitor (site B) and the provider (site A), both behind
 * port-restricted-cone NATs — first in the provider's NAT, then in the
 * visitor's. The NAT forgets every mapping at once, as a router reboot or a
 * conntrack table overflow would.
 */
import { flushConntrack, listConntrack } from '../conntrack.js';
import type { NatSite } from '../lab.js';
import { firstNoticed, formatNoticed, noticedSince, recoverWithin, type Noticed, type Recovery, type Verdict } from './observe.js';
import { isDirect, startTransfer, type ScenarioMode } from './procs.js';
import type { Pair, ScenarioLab } from './scenario-lab.js';
import type { StreamReport } from './stream.js';
import { SCENARIOS, expectationTexts, faultOf } from '../../scenarios/spec.js';

export interface FlushOptions {
  /** Bytes each way. */
  size: number;
  /** Flush once this fraction has moved each way. Default: the spec's. */
  at?: number;
  /** A new connection must work within this long after the flush. Default: the spec's bound for the mode. */
  recoveryBoundMs?: number;
  transferTimeoutMs?: number;
}

export interface FlushRound {
  nat: 'provider' | 'visitor';
  /** The pair's path when the transfer started. */
  path: string;
  /** Conntrack entries (every mapping) the flush removed, by protocol. */
  flushed: { tcp: number; udp: number };
  /** Fraction received (down) when the flush ran; null if the transfer ended first. */
  flushedAtFraction: number | null;
  transfer: StreamReport;
  /** The transfer completed byte-exact both ways. */
  survived: boolean;
  /** Flush → the client saw its connection fail, ms (when it did not survive). */
  clientFailedAfterMs: number | null;
  noticed: Record<string, Noticed[]>;
  recovery: Recovery;
}

export interface FlushResult {
  scenario: 'conntrack-flush';
  mode: ScenarioMode;
  size: number;
  rounds: FlushRound[];
  verdict: Verdict;
}

/**
 * What each mode must do: ../../scenarios/spec.ts (conntrack-flush). stcp
 * carries everything over TCP connections through the NAT; when conntrack
 * forgets them, the next packet from outside (the rendezvous's) is no longer
 * translated: it reaches the NAT router itself, which answers with a TCP
 * RST, and the rendezvous drops that link — the relayed session and the
 * transfer in it are lost (if the peer's packet happens to go first,
 * conntrack picks the connection up again and it survives). What stcp must
 * do is notice and recover: a new connection works within the bound.
 *
 * xtcp: its direct path usually survives (the peer's next datagram
 * re-creates the mapping on the same port), but when the other peer's
 * datagram reaches the flushed NAT first, the conntrack clash moves the
 * local flow to another port, the far NAT filters it and the direct path is
 * dead — and the relay link it would fall back to was flushed too (seen once
 * in 6 runs: 16 s stall, then reset). `survived` is reported either way.
 */
export const FLUSH_EXPECTATION: Record<ScenarioMode, string> = expectationTexts('conntrack-flush');
const SPEC = SCENARIOS['conntrack-flush'];
const FAULT = faultOf('conntrack-flush', 'flush-nat');

async function flushRound(sl: ScenarioLab, pair: Pair, site: NatSite, nat: 'provider' | 'visitor', o: FlushOptions): Promise<FlushRound> {
  const timeout = o.transferTimeoutMs ?? 60_000;
  const t = startTransfer(sl.lab, pair.visitorHost, pair.visitPort, o.size, o.size, timeout);
  const reached = await t.reach(o.at ?? FAULT.atFraction, timeout);
  const before = await listConntrack(sl.lab, site.router);
  const flushAt = Date.now();
  await flushConntrack(sl.lab, site.router);
  const transfer = await t.result();
  const survived = transfer.ok;
  // Survived or not, a *new* connection must work after the flush.
  const recovery = await recoverWithin(sl, pair, flushAt, o.recoveryBoundMs ?? SPEC.expect[sl.mode].recoverWithinMs ?? 30_000);
  return {
    nat,
    path: pair.path,
    flushed: { tcp: before.filter((e) => e.proto === 'tcp').length, udp: before.filter((e) => e.proto === 'udp').length },
    flushedAtFraction: reached ? reached.recv / o.size : null,
    transfer,
    survived,
    clientFailedAfterMs: survived ? null : transfer.endedAt - flushAt,
    noticed: noticedSince({ visitor: pair.visitor, provider: pair.provider, rendezvous: sl.rendezvous }, flushAt),
    recovery,
  };
}

export async function conntrackFlushScenario(sl: ScenarioLab, o: FlushOptions): Promise<FlushResult> {
  const rounds: FlushRound[] = [];
  // A fresh pair per round: each round shows what one flush does, not the sum of two.
  for (const nat of FAULT.nats) {
    const site = nat === 'provider' ? sl.siteA : sl.siteB;
    const pair = await sl.startPair(sl.siteB);
    try {
      rounds.push(await flushRound(sl, pair, site, nat, o));
    } finally {
      await pair.stop();
    }
  }
  const expect = SPEC.expect[sl.mode];
  const bound = o.recoveryBoundMs ?? expect.recoverWithinMs ?? 30_000;
  const failures: string[] = [];
  for (const r of rounds) {
    const where = `flush in the ${r.nat}'s NAT`;
    if (r.flushedAtFraction === null) failures.push(`${where}: the transfer ended before the flush (make it larger)`);
    if (expect.startsDirect && !isDirect(r.path)) failures.push(`${where}: the session was not on a direct path when the transfer started (path: ${r.path})`);
    if (!r.survived && r.transfer.error?.startsWith('timed out')) failures.push(`${where}: the transfer hung until the client's timeout instead of failing`);
    const visible = expect.visibleFailure;
    if (!r.survived && visible && (firstNoticed(r.noticed.visitor, visible.event) ?? Infinity) > visible.withinMs) {
      failures.push(`${where}: the transfer was lost but the visitor did not log ${visible.event} within ${visible.withinMs} ms`);
    }
    if (!r.survived && expect.transfer === 'byte-exact') {
      failures.push(`${where}: the transfer was lost (${r.transfer.error}); xtcp must carry it through (relay meanwhile, then direct again)`);
    }
    if (!r.recovery.ok) failures.push(`${where}: no new connection worked within ${bound} ms (${r.recovery.attempts} attempts, last: ${r.recovery.lastError})`);
  }
  return {
    scenario: 'conntrack-flush',
    mode: sl.mode,
    size: o.size,
    rounds,
    verdict: { ok: failures.length === 0, expected: FLUSH_EXPECTATION[sl.mode], failures },
  };
}

export function describeFlush(r: FlushResult): string[] {
  return r.rounds.map(
    (x) =>
      `path ${x.path}; conntrack -F in the ${x.nat}'s NAT at ${x.flushedAtFraction === null ? '?' : Math.round(x.flushedAtFraction * 100)}% ` +
      `(${x.flushed.tcp} tcp + ${x.flushed.udp} udp entries): transfer ${x.survived ? `survived (${x.transfer.totalMs?.toFixed(0)} ms)` : `lost after +${x.clientFailedAfterMs} ms (${x.transfer.error})`}; ` +
      `new connection ${x.recovery.ok ? `ok +${x.recovery.ms} ms after the flush (${x.recovery.attempts} attempt(s))` : 'FAILED'}; ${formatNoticed(x.noticed)}`,
  );
}
