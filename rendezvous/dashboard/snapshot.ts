/**
 * The dashboard's JSON, built from a RendezvousView: what the page shows and
 * nothing else. Built field by field (never by spreading what peers sent), so
 * nothing reaches the page that this file does not name: no token, ticket,
 * secret or key exists in the view, and none can slip in here.
 */
import type { PeerRole } from '../../src/control/index.js';
import { NAT_CLASSES, natClass, type NatClass } from '../../src/metrics/nat-class.js';
import type { ReportedFailure, ReportedSession } from './peer-reports.js';
import type { RendezvousView, ViewPeer } from './view.js';

export interface SnapshotPeer {
  id: string;
  remote: string;
  name?: string;
  connectedSeconds: number;
  nat: NatClass;
}

export interface SnapshotSession {
  /** The first 8 hex digits of the connection id, as the logs show it. */
  conn: string;
  service: string;
  /** relay, direct_lan, direct_internet, none; unknown: neither side reports (an older peer), so only the relay link is known. */
  path: ReportedSession['path'] | 'unknown';
  family?: 'ipv4' | 'ipv6';
  rttMs?: number;
  bytesSent?: number;
  bytesReceived?: number;
  /** Bytes per second, visitor to provider and back, over the last report interval. */
  sendRate?: number;
  receiveRate?: number;
  ageSeconds?: number;
  /** Why (not) direct, in words. */
  direct?: string;
  /** Which side's report this is (null: none reports). */
  reportedBy: PeerRole | null;
  /** The session has a relay link through this rendezvous now. */
  relayLink: boolean;
  punchesDirect?: number;
  punchesFailed?: number;
}

export interface SnapshotPair {
  visitorNat: NatClass;
  providerNat: NatClass;
  /** Reported by the visitors: attempts that found a direct path, and that failed. */
  direct: number;
  failed: number;
  /** Seen by the broker: both sides offered candidates / a side offered none / a side sent nothing in time. */
  introduced: number;
  declined: number;
  timeout: number;
}

/** A reported failure as the page shows it: its age rather than its clock time, the connection id shortened. */
export type SnapshotFailure = Omit<ReportedFailure, 'at' | 'connId'> & { ageSeconds: number; conn: string };

export interface DashboardSnapshot {
  services: { name: string; provider: string | null }[];
  providers: (SnapshotPeer & { services: string[] })[];
  visitors: SnapshotPeer[];
  sessions: SnapshotSession[];
  /** Logged-in peers by the NAT class of their latest punch offer (unknown: none yet). */
  natTypes: { nat: NatClass; peers: number }[];
  punchPairs: SnapshotPair[];
  failures: SnapshotFailure[];
  reports: { everyMs: number | null; taken: number; dropped: number; sessionsDropped: number };
}

const conn8 = (connId: string): string => connId.slice(0, 8);
const seconds = (ms: number): number => Math.max(0, Math.round(ms / 1000));

function peer(p: ViewPeer, now: number): SnapshotPeer {
  return { id: p.id, remote: p.remote, ...(p.name !== undefined ? { name: p.name } : {}), connectedSeconds: seconds(now - p.since), nat: p.nat ? natClass(p.nat) : 'unknown' };
}

function fromReport(r: ReportedSession, relayLink: boolean): SnapshotSession {
  return {
    conn: conn8(r.connId),
    service: r.service,
    path: r.path,
    ...(r.family !== undefined ? { family: r.family } : {}),
    ...(r.rttMs !== undefined ? { rttMs: r.rttMs } : {}),
    // The visitor's sent is toward the provider; a provider's report is turned round.
    bytesSent: r.role === 'visitor' ? r.bytesSent : r.bytesReceived,
    bytesReceived: r.role === 'visitor' ? r.bytesReceived : r.bytesSent,
    ...rates(r),
    ageSeconds: r.ageSeconds,
    ...(r.direct !== undefined ? { direct: r.direct } : {}),
    reportedBy: r.role,
    relayLink,
    punchesDirect: r.punchesDirect,
    punchesFailed: r.punchesFailed,
  };
}

function rates(r: ReportedSession): { sendRate?: number; receiveRate?: number } {
  if (r.sendRate === undefined || r.receiveRate === undefined) return {};
  return r.role === 'visitor' ? { sendRate: r.sendRate, receiveRate: r.receiveRate } : { sendRate: r.receiveRate, receiveRate: r.sendRate };
}

export function buildSnapshot(v: RendezvousView): DashboardSnapshot {
  const byId = new Map(v.peers.map((p) => [p.id, p]));
  const providers = v.peers.filter((p) => p.role === 'provider');
  const relayed = new Set(v.relaySessions.map((r) => r.connId));

  // One row per session: the visitor's report if there is one, else the provider's, else what the relay link says.
  const reports = new Map<string, ReportedSession>();
  for (const r of v.reported) {
    const have = reports.get(r.connId);
    if (have === undefined || (have.role === 'provider' && r.role === 'visitor')) reports.set(r.connId, r);
  }
  const sessions: SnapshotSession[] = [...reports.values()].map((r) => fromReport(r, relayed.has(r.connId)));
  for (const r of v.relaySessions) {
    if (!reports.has(r.connId)) sessions.push({ conn: conn8(r.connId), service: r.service, path: 'unknown', reportedBy: null, relayLink: true });
  }

  const natCounts = new Map<NatClass, number>();
  for (const p of v.peers) {
    const c = p.nat ? natClass(p.nat) : 'unknown';
    natCounts.set(c, (natCounts.get(c) ?? 0) + 1);
  }

  const pairs = new Map<string, SnapshotPair>();
  const pair = (visitorNat: NatClass, providerNat: NatClass): SnapshotPair => {
    const key = `${visitorNat}/${providerNat}`;
    let p = pairs.get(key);
    if (p === undefined) pairs.set(key, (p = { visitorNat, providerNat, direct: 0, failed: 0, introduced: 0, declined: 0, timeout: 0 }));
    return p;
  };
  for (const o of v.pairOutcomes) {
    const p = pair(o.visitorNat, o.providerNat);
    p.direct += o.direct;
    p.failed += o.failed;
  }
  for (const o of v.punchOutcomes) pair(o.visitorNat, o.providerNat)[o.outcome] += o.count;

  return {
    services: v.services.map(([name, id]) => ({ name, provider: byId.has(id) ? id : null })).sort((a, b) => a.name.localeCompare(b.name)),
    providers: providers.map((p) => ({ ...peer(p, v.now), services: v.services.filter(([, id]) => id === p.id).map(([n]) => n) })),
    visitors: v.peers.filter((p) => p.role === 'visitor').map((p) => peer(p, v.now)),
    sessions,
    natTypes: NAT_CLASSES.filter((c) => natCounts.has(c)).map((nat) => ({ nat, peers: natCounts.get(nat) ?? 0 })),
    punchPairs: [...pairs.values()],
    failures: v.failures.map((f) => ({
      ageSeconds: seconds(v.now - f.at),
      conn: conn8(f.connId),
      service: f.service,
      role: f.role,
      attempt: f.attempt,
      reason: f.reason,
      timeline: f.timeline,
      visitorNat: f.visitorNat,
      providerNat: f.providerNat,
    })),
    reports: { everyMs: v.reportEveryMs, taken: v.reportStats.reports, dropped: v.reportStats.reportsDropped, sessionsDropped: v.reportStats.sessionsDropped },
  };
}
