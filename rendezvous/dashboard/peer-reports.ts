/**
 * What peers report of their sessions, kept for the dashboard, sans-I/O:
 * reports and the clock come in, a bounded picture goes out. Only what a
 * session's own side reports about it is kept (a peer cannot paint another
 * peer's sessions); everything is bounded: sessions per peer (the schema's
 * cap), recent failures (a ring), punch outcomes (fixed NAT-class pairs),
 * and the NAT classes remembered per session.
 */
import type { NatInfoMessage, PeerRole, SessionReport } from '../../src/control/index.js';
import { natClass, type NatClass } from '../../src/metrics/nat-class.js';
import type { PeerId } from '../session-setup.js';

export interface PeerReportsLimits {
  /** Failed punches kept, newest first (older ones fall off). */
  maxFailures: number;
  /** Sessions whose two NAT classes are remembered (least recently seen forgotten first). */
  maxSessionsTracked: number;
  /** A peer's reports closer together than this are dropped (it was asked for one every everyMs). */
  minIntervalMs: number;
}

export const DEFAULT_PEER_REPORTS_LIMITS: PeerReportsLimits = { maxFailures: 32, maxSessionsTracked: 4096, minIntervalMs: 400 };

/** One failed punch attempt, as its peer described it. */
export interface ReportedFailure {
  /** Clock time it arrived at. */
  at: number;
  connId: string;
  service: string;
  role: PeerRole;
  attempt: number;
  reason: string;
  timeline: string;
  visitorNat: NatClass;
  providerNat: NatClass;
}

/** Punch attempts the visitors reported, by the two sides' NAT classes. */
export interface PairOutcome {
  visitorNat: NatClass;
  providerNat: NatClass;
  direct: number;
  failed: number;
}

/** A session as one of its sides reported it last. */
export interface ReportedSession extends SessionReport {
  role: PeerRole;
  peer: PeerId;
  /** Clock time of the report. */
  at: number;
  /** Application bytes per second since this side's previous report of it (absent on its first). */
  sendRate?: number;
  receiveRate?: number;
}

export interface PeerReportsStats {
  /** Reports taken. */
  reports: number;
  /** Reports dropped whole: from a peer that was not asked, or too soon after its last. */
  reportsDropped: number;
  /** Session entries dropped: a session this peer is not a side of, or named twice in one report. */
  sessionsDropped: number;
}

/** What the store asks of the rendezvous: which side of a session a peer is, if any. */
export type SideOf = (peer: PeerId, connId: string) => PeerRole | null;

interface Tracked {
  nat: Partial<Record<PeerRole, NatClass>>;
  /** The visitor's punch counts already added to the pair outcomes. */
  counted: { direct: number; failed: number };
  /** The latest failed attempt of this session already in the ring, by side (a report repeats it until the next). */
  failedAttempt: Partial<Record<PeerRole, number>>;
}

interface PeerEntry {
  role: PeerRole;
  at: number;
  sessions: ReportedSession[];
}

export class PeerReports {
  private readonly limits: PeerReportsLimits;
  private readonly byPeer = new Map<PeerId, PeerEntry>();
  /** Least recently seen first. */
  private readonly tracked = new Map<string, Tracked>();
  private readonly ring: ReportedFailure[] = [];
  private readonly outcomes = new Map<string, PairOutcome>();
  /** The NAT each peer described in its latest punch offer. */
  private readonly nats = new Map<PeerId, NatInfoMessage>();
  private readonly counts: PeerReportsStats = { reports: 0, reportsDropped: 0, sessionsDropped: 0 };

  constructor(
    private readonly sideOf: SideOf,
    limits: Partial<PeerReportsLimits> = {},
  ) {
    this.limits = { ...DEFAULT_PEER_REPORTS_LIMITS, ...limits };
  }

  get stats(): PeerReportsStats {
    return { ...this.counts };
  }

  /**
   * A punch offer the broker took from `peer` as `role` of `connId`: its NAT
   * description is remembered for the session (punch outcomes by NAT pair)
   * and for the peer (NAT types seen).
   */
  offer(peer: PeerId, role: PeerRole, connId: string, nat: NatInfoMessage | undefined): void {
    if (nat === undefined) return;
    this.nats.set(peer, nat);
    this.track(connId).nat[role] = natClass(nat);
  }

  /**
   * A peer's report. `asked`: this rendezvous asked its peers for reports.
   * Returns whether it was taken (a dropped one is counted).
   */
  report(peer: PeerId, role: PeerRole, sessions: readonly SessionReport[], now: number, asked: boolean): boolean {
    const last = this.byPeer.get(peer);
    if (!asked || (last !== undefined && now - last.at < this.limits.minIntervalMs)) {
      this.counts.reportsDropped++;
      return false;
    }
    this.counts.reports++;
    const before = new Map((last?.sessions ?? []).map((s) => [s.connId, s]));
    const kept: ReportedSession[] = [];
    const seen = new Set<string>();
    for (const s of sessions) {
      if (seen.has(s.connId) || this.sideOf(peer, s.connId) !== role) {
        this.counts.sessionsDropped++;
        continue;
      }
      seen.add(s.connId);
      // The failure's timeline lives in the ring (once); the session keeps its counts.
      const { failure: _failure, ...rest } = s;
      kept.push({ ...rest, role, peer, at: now, ...rates(before.get(s.connId), s, now) });
      const t = this.track(s.connId);
      if (role === 'visitor') this.countOutcomes(t, s);
      if (s.failure !== undefined) this.failed(t, s, role, now);
    }
    this.byPeer.set(peer, { role, at: now, sessions: kept });
    return true;
  }

  /** The peer's control connection closed: its sessions are no longer shown as it reported them. */
  peerGone(peer: PeerId): void {
    this.byPeer.delete(peer);
    this.nats.delete(peer);
  }

  /** Every session as its sides reported it last. */
  get sessions(): ReportedSession[] {
    return [...this.byPeer.values()].flatMap((e) => e.sessions);
  }

  /** Recent failed punches, newest first. */
  get failures(): readonly ReportedFailure[] {
    return [...this.ring].reverse();
  }

  get pairOutcomes(): PairOutcome[] {
    return [...this.outcomes.values()].map((o) => ({ ...o }));
  }

  /** The NAT each logged-in peer described last (peers that never offered have none). */
  natOf(peer: PeerId): NatInfoMessage | undefined {
    return this.nats.get(peer);
  }

  private track(connId: string): Tracked {
    let t = this.tracked.get(connId);
    if (t !== undefined) this.tracked.delete(connId);
    else t = { nat: {}, counted: { direct: 0, failed: 0 }, failedAttempt: {} };
    this.tracked.set(connId, t);
    if (this.tracked.size > this.limits.maxSessionsTracked) {
      const oldest = this.tracked.keys().next().value;
      if (oldest !== undefined) this.tracked.delete(oldest);
    }
    return t;
  }

  /** Adds what the visitor's counts moved since its last report (one side counts, so an attempt counts once). */
  private countOutcomes(t: Tracked, s: SessionReport): void {
    const direct = Math.max(0, s.punchesDirect - t.counted.direct);
    const failed = Math.max(0, s.punchesFailed - t.counted.failed);
    t.counted = { direct: Math.max(t.counted.direct, s.punchesDirect), failed: Math.max(t.counted.failed, s.punchesFailed) };
    if (direct === 0 && failed === 0) return;
    const visitorNat = t.nat.visitor ?? 'unknown';
    const providerNat = t.nat.provider ?? 'unknown';
    const key = `${visitorNat}/${providerNat}`;
    const o = this.outcomes.get(key) ?? { visitorNat, providerNat, direct: 0, failed: 0 };
    o.direct += direct;
    o.failed += failed;
    this.outcomes.set(key, o);
  }

  private failed(t: Tracked, s: SessionReport, role: PeerRole, now: number): void {
    const f = s.failure;
    if (f === undefined) return;
    const last = t.failedAttempt[role];
    if (last !== undefined && f.attempt <= last) return;
    t.failedAttempt[role] = f.attempt;
    this.ring.push({
      at: now,
      connId: s.connId,
      service: s.service,
      role,
      attempt: f.attempt,
      reason: f.reason,
      timeline: f.timeline,
      visitorNat: t.nat.visitor ?? 'unknown',
      providerNat: t.nat.provider ?? 'unknown',
    });
    if (this.ring.length > this.limits.maxFailures) this.ring.shift();
  }
}

/** Bytes per second between two reports of a session (none for a first report, or a counter that went back). */
function rates(prev: ReportedSession | undefined, s: SessionReport, now: number): { sendRate?: number; receiveRate?: number } {
  if (prev === undefined || now <= prev.at) return {};
  const sent = s.bytesSent - prev.bytesSent;
  const received = s.bytesReceived - prev.bytesReceived;
  if (sent < 0 || received < 0) return {};
  const seconds = (now - prev.at) / 1000;
  return { sendRate: Math.round(sent / seconds), receiveRate: Math.round(received / seconds) };
}
