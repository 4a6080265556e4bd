/**
 * What `burrow status` shows of a provider or visitor: its sessions (path,
 * round trip, bytes, age, port mappings) and its counts across sessions,
 * read from what the peer already exposes for metrics. Plain JSON, and no
 * secret, token or session key: only names, addresses, numbers and words.
 */
import type { TunnelSession } from '../src/session/index.js';
import type { PeerRoleName } from './metrics.js';
import { sessionPath } from './metrics.js';
import type { PeerCounters } from './peer-counters.js';
import type { SessionSetup } from './session-setup.js';
import type { UdpSessionView } from './udp/session-flows.js';
import type { UdpCounters, UdpDrops } from '../src/udp/index.js';

/** A UDP service's flows in one session (or, in counters, over all of them). */
export interface UdpStatus {
  /** Flows open now, and the most a session may have. */
  flows: number;
  maxFlows?: number;
  flowsOpened: number;
  /** The largest datagram a client may send on the current path (absent in totals). */
  datagramLimit?: number;
  datagramsSent: number;
  datagramsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Drops by reason (only reasons that happened). */
  drops: Partial<UdpDrops>;
}

export function udpStatus(c: UdpCounters, view?: UdpSessionView): UdpStatus {
  return {
    flows: c.flows,
    ...(view ? { maxFlows: view.maxFlows } : {}),
    flowsOpened: c.flowsOpened,
    ...(view ? { datagramLimit: view.datagramLimit } : {}),
    datagramsSent: c.counts.datagramsSent,
    datagramsReceived: c.counts.datagramsReceived,
    bytesSent: c.counts.bytesSent,
    bytesReceived: c.counts.bytesReceived,
    drops: c.nonZeroDrops(),
  };
}

export interface SessionStatus {
  id: number;
  service: string;
  /** relay, direct_lan, direct_internet, or none (no path yet). */
  path: 'relay' | 'direct_lan' | 'direct_internet' | 'none';
  /** On a direct path: ipv4 or ipv6. */
  family?: 'ipv4' | 'ipv6';
  /** For people: "relay via 127.0.0.1:7000", "udp 203.0.113.7:41641". */
  label?: string;
  /** KCP's smoothed round trip on a direct path, ms (absent on the relay or before one is measured). */
  rttMs?: number;
  bytesSent: number;
  bytesReceived: number;
  ageSeconds: number;
  /** Router port mappings this session holds (natpmp, pcp, upnp). */
  portMappings: string[];
  /** Why the session is (or is not) on a direct path, in words. */
  direct?: string;
  /** A UDP service's session: its flows and their counts. */
  udp?: UdpStatus;
}

export interface PeerCountersStatus {
  sessionsOpened: number;
  punchesDirect: number;
  punchesFailed: number;
  punchesNotRun: number;
  repunches: number;
  pathDeaths: number;
  /** UDP flows over all sessions (present once any UDP datagram or flow was counted). */
  udp?: UdpStatus;
}

export interface PeerStatus {
  role: PeerRoleName;
  /** The services it offers (provider) or visits (visitor). */
  services: string[];
  sessions: SessionStatus[];
  counters: PeerCountersStatus;
}

/** One live session as the peer handle knows it. */
export interface LiveSession {
  id: number;
  service: string;
  session: TunnelSession;
  /** Date.now() when it started. */
  openedAt: number;
  /** Its wiring, when the peer still shows it (null once it is closing). */
  setup: SessionSetup | null;
  /** Its UDP flows, for a UDP service. */
  udp?: UdpSessionView | null;
}

export function sessionStatus(s: LiveSession, now: number): SessionStatus {
  const where = s.setup ? sessionPath({ session: s.session, setup: s.setup }) : s.session.currentPath ? { path: s.session.currentPath.kind === 'direct' ? ('direct_internet' as const) : ('relay' as const) } : { path: 'none' as const };
  const mux = s.session.mux.stats;
  const rtt = s.session.srttMs;
  const direct = s.setup?.direct ?? null;
  return {
    id: s.id,
    service: s.service,
    path: where.path,
    ...(where.family ? { family: where.family } : {}),
    ...(s.session.currentPath ? { label: s.session.currentPath.label } : {}),
    ...(rtt > 0 ? { rttMs: Math.round(rtt) } : {}),
    bytesSent: mux.dataBytesOut,
    bytesReceived: mux.dataBytesIn,
    ageSeconds: Math.max(0, Math.round((now - s.openedAt) / 1000)),
    portMappings: direct ? [...direct.portMappings] : [],
    ...(direct ? { direct: direct.status } : {}),
    ...(s.udp ? { udp: udpStatus(s.udp.counters, s.udp) } : {}),
  };
}

export function countersStatus(c: PeerCounters): PeerCountersStatus {
  return {
    sessionsOpened: c.sessionsOpened,
    punchesDirect: c.punchesDirect,
    punchesFailed: c.punchesFailed,
    punchesNotRun: c.punchesNotRun,
    repunches: c.repunches,
    pathDeaths: c.pathDeaths,
    ...(c.udp.flowsOpened > 0 || c.udp.counts.datagramsSent > 0 || Object.keys(c.udp.nonZeroDrops()).length > 0 ? { udp: udpStatus(c.udp) } : {}),
  };
}
