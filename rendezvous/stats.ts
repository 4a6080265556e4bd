import type { PunchOutcomeCount } from './punch-broker.js';
import type { RefusalReason } from './traffic-counts.js';

/** What a rendezvous counts: RendezvousServer.stats, read by metrics, status and tests. */
export interface RendezvousStats {
  connections: number;
  unauthenticated: number;
  peers: number;
  /** Logged-in peers by role. */
  peersByRole: Record<'provider' | 'visitor', number>;
  services: number;
  pending: number;
  relayLinks: number;
  relayBytes: number;
  /** Relay bytes forwarded, live links included, by direction. */
  relayBytesByDirection: { toProvider: number; toVisitor: number };
  /** Every error and connect-failed sent (and unauthenticated connections turned away), by reason. */
  refusals: Partial<Record<RefusalReason, number>>;
  loginsRefused: number;
  invalidFrames: number;
  /** Control connections cut off for not reading what they were sent. */
  controlOverflows: number;
  /** The most bytes any control connection has had queued unsent. */
  controlQueuePeak: number;
  punchBrokered: number;
  /** Sessions the broker may introduce for punching now. */
  punchPairs: number;
  /** Each attempt's end at the broker, by the two sides' NAT classes. */
  punchOutcomes: readonly PunchOutcomeCount[];
  /** Punch offers for a session from a peer that is not one of its two. */
  punchOffersIgnored: number;
  /** Peers that came back on a new control connection and took their side of a session over (with its ticket). */
  punchRejoined: number;
}
