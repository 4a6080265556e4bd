/**
 * Reports this peer's sessions to the rendezvous for its dashboard: path
 * (relay, direct LAN/internet, family), round trip, bytes, punch counts and
 * the latest failed punch's timeline. Only to a rendezvous that asked (its
 * welcome said how often, see src/control/capabilities.ts): an older one
 * would refuse the message and close the connection.
 *
 * Sent every `everyMs`, and within a tick of any session changing path.
 * Never a key, secret or token: the report is built field by field from
 * numbers and words.
 */
import { every, type Scheduler, type TimerHandle } from '../src/clock/scheduler.js';
import { MAX_CONTROL_FRAME, MAX_REPORT_SESSIONS, MAX_REPORT_TIMELINE, type ClientMessage, type RendezvousCapabilities, type SessionReport } from '../src/control/index.js';
import { sessionPath } from './metrics.js';
import type { SessionView } from './session-view.js';

/** How often the reporter looks for a path change (a report goes out at once on one). */
export const REPORT_TICK_MS = 1000;
/** A report's JSON stays this far under the control frame's cap (slack for the frame's header). */
const FRAME_BUDGET = MAX_CONTROL_FRAME - 512;
/** The `direct` words and failure reasons are cut to the schema's text bound. */
const MAX_TEXT = 500;

export interface ReportControl {
  readonly isUp: boolean;
  readonly capabilities: RendezvousCapabilities;
  /** Counts logins: a new connection gets a report at once. */
  readonly generation: number;
  send(m: ClientMessage): boolean;
}

const cut = (s: string, n: number): string => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

/** One session's report, from what the peer shows for status and metrics. */
export function sessionReport(v: SessionView, ageSeconds: number): SessionReport {
  const where = sessionPath(v);
  const mux = v.session.mux.stats;
  const rtt = v.session.srttMs;
  const direct = v.setup.direct?.status;
  const punches = v.setup.punches;
  const failure = v.setup.lastFailure;
  return {
    connId: v.setup.connId,
    service: v.service,
    path: where.path,
    ...(where.family !== undefined ? { family: where.family } : {}),
    ...(rtt > 0 ? { rttMs: Math.min(600_000, Math.round(rtt)) } : {}),
    bytesSent: mux.dataBytesOut,
    bytesReceived: mux.dataBytesIn,
    ageSeconds: Math.max(0, Math.round(ageSeconds)),
    punchesDirect: Math.min(100_000, punches.direct),
    punchesFailed: Math.min(100_000, punches.failed),
    ...(direct !== undefined ? { direct: cut(direct, MAX_TEXT) } : {}),
    ...(failure !== null
      ? { failure: { attempt: Math.min(1000, failure.attempt), reason: cut(failure.reason, MAX_TEXT), timeline: cut(failure.timeline, MAX_REPORT_TIMELINE) } }
      : {}),
  };
}

/**
 * The report message for these sessions, within the control frame's cap:
 * newest first, each with its failure timeline if that fits, else without,
 * until the next does not fit at all (at most MAX_REPORT_SESSIONS). A
 * timeline repeats in every report and the rendezvous keeps the first it
 * sees, so leaving one out now and then loses little.
 */
export function reportMessage(sessions: readonly SessionReport[]): Extract<ClientMessage, { type: 'report' }> {
  const newest = [...sessions].sort((a, b) => a.ageSeconds - b.ageSeconds).slice(0, MAX_REPORT_SESSIONS);
  // Measured, not encoded: encoding a message past the cap throws.
  const fits = (list: readonly SessionReport[]) => Buffer.byteLength(JSON.stringify({ type: 'report', sessions: list })) <= FRAME_BUDGET;
  const list: SessionReport[] = [];
  for (const s of newest) {
    const bare = s.failure === undefined ? s : { ...s, failure: { ...s.failure, timeline: '' } };
    const next = [s, bare].find((c) => fits([...list, c]));
    if (next === undefined) break;
    list.push(next);
  }
  return { type: 'report', sessions: list };
}

/**
 * The shell: a tick that sends when due. `views` lists the peer's live
 * sessions (Provider/Visitor.sessionViews).
 */
export class SessionReporter {
  private timer: TimerHandle | null = null;
  private lastSent = -Infinity;
  private lastPaths = '';
  private lastGeneration = -1;
  /** When each session was first seen here, for its age (a WeakMap: a closed session just goes). */
  private readonly firstSeen = new WeakMap<SessionView['session'], number>();

  constructor(
    private readonly control: ReportControl,
    private readonly views: () => readonly SessionView[],
    private readonly scheduler: Scheduler,
  ) {}

  /** The control connection is (newly) up: report now and on every tick if this rendezvous asked, else not at all. */
  onUp(): void {
    if (this.control.capabilities.reportEveryMs === null) return this.stop();
    this.timer ??= every(this.scheduler, REPORT_TICK_MS, () => this.tick());
    this.tick();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /** Sends a report if one is due: the interval passed, a path changed, or the control connection is new. */
  tick(): void {
    const everyMs = this.control.capabilities.reportEveryMs;
    if (!this.control.isUp || everyMs === null) return;
    const now = this.scheduler.now();
    const views = this.views();
    const paths = views.map((v) => `${v.setup.connId}:${sessionPath(v).path}`).join(',');
    const due = now - this.lastSent >= everyMs || paths !== this.lastPaths || this.control.generation !== this.lastGeneration;
    if (!due) return;
    const reports = views.map((v) => {
      let seen = this.firstSeen.get(v.session);
      if (seen === undefined) this.firstSeen.set(v.session, (seen = now));
      return sessionReport(v, (now - seen) / 1000);
    });
    if (!this.control.send(reportMessage(reports))) return;
    this.lastSent = now;
    this.lastPaths = paths;
    this.lastGeneration = this.control.generation;
  }
}
