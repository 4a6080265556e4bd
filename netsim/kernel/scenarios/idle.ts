/**
 * Scenario: a session idles longer than the visitor's NAT keeps mappings.
 * The visitor sits behind the short-lifetime site (UDP mappings live 5 s);
 * the session comes up, carries one request, idles 12 s, then a new request
 * must go through — and we measure how long it takes.
 *
 * stcp carries everything over TCP, which the profile's UDP timeouts do not
 * touch; the `tcpLifetimeS` variant also shortens the NAT's established-TCP
 * timeout (nf_conntrack_tcp_timeout_established, default 5 days) so that the
 * relay and control connections themselves outlive their mappings — as on
 * carrier NATs that drop idle TCP flows after minutes.
 */
import { sleep } from '../exec.js';
import { listConntrack } from '../conntrack.js';
import { formatNoticed, noticedSince, recoverWithin, type Noticed, type Recovery, type Verdict } from './observe.js';
import { eventTime, events, startTransfer, type ScenarioMode } from './procs.js';
import type { ScenarioLab } from './scenario-lab.js';
import type { StreamReport } from './stream.js';
import { SCENARIOS, expectationTexts, faultOf } from '../../scenarios/spec.js';

export interface IdleOptions {
  /** Default: the spec's for the mode (xtcp: longer than several 15 s keepalives, so the DirectLink must learn the 5 s lifetime). */
  idleMs?: number;
  /** Also expire idle TCP mappings after this many seconds (a variant). */
  tcpLifetimeS?: number;
  /** Bytes each way of the requests before and after the idle time. Default: the spec's. */
  requestBytes?: number;
  /** The request after the idle time must verify within this long. Default: the spec's. */
  requestBoundMs?: number;
}

export interface IdleResult {
  scenario: 'idle';
  variant: 'udp-5s' | 'udp-and-tcp';
  mode: ScenarioMode;
  path: string;
  idleMs: number;
  /** Mappings in the visitor's NAT before and after the idle time, by protocol. */
  mappingsBefore: { tcp: number; udp: number };
  mappingsAfter: { tcp: number; udp: number };
  before: StreamReport;
  after: StreamReport;
  /** Request start → verified, for the request after the idle time (includes the client's start-up). */
  afterMs: number;
  /** If the first request after the idle time failed: until one worked (from its start). */
  recovery: Recovery | null;
  /** The path the visitor logged for the request after the idle time. */
  afterPath: string | null;
  /** What the processes logged from the start of the idle time on. */
  noticed: Record<string, Noticed[]>;
  verdict: Verdict;
}

export const IDLE_EXPECTATION: Record<ScenarioMode, string> = expectationTexts('idle');
const SPEC = SCENARIOS.idle;
const FAULT = faultOf('idle', 'idle');
const BYTES = SPEC.traffic.kind === 'requests' ? SPEC.traffic.bytesEachWay : 1 << 20;

const TCP_TIMEOUT_SYSCTL = 'net.netfilter.nf_conntrack_tcp_timeout_established';

export async function idleScenario(sl: ScenarioLab, o: IdleOptions = {}): Promise<IdleResult> {
  const { lab } = sl;
  const router = sl.siteShort.router;
  const idleMs = o.idleMs ?? FAULT.idleMs[sl.mode];
  const bytes = o.requestBytes ?? BYTES;
  const bound = o.requestBoundMs ?? SPEC.expect[sl.mode].requestWithinMs ?? 20_000;
  let restore: string | null = null;
  if (o.tcpLifetimeS !== undefined) {
    const r = await lab.exec(router, 'sysctl', ['-n', TCP_TIMEOUT_SYSCTL]);
    restore = r.stdout.trim();
    await lab.exec(router, 'sysctl', ['-q', '-w', `${TCP_TIMEOUT_SYSCTL}=${Math.round(o.tcpLifetimeS)}`]);
  }
  const count = async (): Promise<{ tcp: number; udp: number }> => {
    const e = await listConntrack(lab, router);
    // Live TCP flows only: closing ones (FIN_WAIT, TIME_WAIT) of earlier pairs are not mappings anyone uses.
    return { tcp: e.filter((x) => x.proto === 'tcp' && x.state === 'ESTABLISHED').length, udp: e.filter((x) => x.proto === 'udp').length };
  };
  const pair = await sl.startPair(sl.siteShort);
  try {
    const before = await startTransfer(lab, pair.visitorHost, pair.visitPort, bytes, bytes, bound).result();
    const mappingsBefore = await count();
    const idleFrom = Date.now();
    await sleep(idleMs);
    const mappingsAfter = await count();
    const t0 = Date.now();
    const after = await startTransfer(lab, pair.visitorHost, pair.visitPort, bytes, bytes, bound).result();
    const afterMs = after.endedAt - t0;
    const recovery = after.ok ? null : await recoverWithin(sl, pair, t0, 2 * bound);
    const noticed = noticedSince({ visitor: pair.visitor, provider: pair.provider, rendezvous: sl.rendezvous }, idleFrom);
    const failures: string[] = [];
    if (!before.ok) failures.push(`the request before the idle time failed (${before.error})`);
    if (!after.ok) failures.push(`the first request after ${idleMs} ms idle failed (${after.error})${recovery?.ok ? `; one worked ${recovery.ms} ms after it started` : ''}`);
    // Which path the visitor gave that request (its last 'connection' line).
    const conns = events(pair.visitor).filter((e) => e.event === 'connection' && (eventTime(e) ?? 0) >= t0 - 1);
    const afterPath = typeof conns[0]?.path === 'string' ? conns[0].path : null;
    if (SPEC.expect[sl.mode].startsDirect && after.ok && !(afterPath ?? '').startsWith('direct')) {
      failures.push(`the request after the idle time went ${afterPath ?? 'an unknown path'}, not direct`);
    }
    return {
      scenario: 'idle',
      variant: o.tcpLifetimeS === undefined ? 'udp-5s' : 'udp-and-tcp',
      mode: sl.mode,
      path: pair.path,
      idleMs,
      mappingsBefore,
      mappingsAfter,
      before,
      after,
      afterMs,
      afterPath,
      recovery,
      noticed,
      verdict: { ok: failures.length === 0, expected: IDLE_EXPECTATION[sl.mode], failures },
    };
  } finally {
    await pair.stop();
    if (restore !== null) await lab.exec(router, 'sysctl', ['-q', '-w', `${TCP_TIMEOUT_SYSCTL}=${restore}`]);
  }
}

export function describeIdle(r: IdleResult): string[] {
  const m = (x: { tcp: number; udp: number }): string => `${x.tcp} tcp + ${x.udp} udp`;
  return [
    `path ${r.path}; idle ${r.idleMs} ms behind short-lifetime (${r.variant === 'udp-5s' ? 'UDP mappings 5 s' : 'UDP and TCP mappings 5 s'}): ` +
      `visitor NAT mappings ${m(r.mappingsBefore)} before, ${m(r.mappingsAfter)} after; ` +
      `request before ${r.before.ok ? `${r.before.totalMs?.toFixed(0)} ms` : 'FAILED'}, after ${r.after.ok ? `ok (${r.afterPath ?? '?'}) in ${r.afterMs} ms (connect → verified ${r.after.totalMs?.toFixed(0)} ms)` : `FAILED (${r.after.error})`}` +
      `${r.recovery ? `; recovery ${r.recovery.ok ? `+${r.recovery.ms} ms` : 'FAILED'}` : ''}`,
    `during and after the idle time: ${formatNoticed(r.noticed)}`,
  ];
}
