/**
 * A rendezvous node's health, decided from what it reports (sans-I/O): what
 * GET /health on its metrics server answers and RunningRendezvous.health()
 * returns. Healthy = listening, and in a cluster also connected to Redis
 * with its lease held (without the lease its names do not resolve for the
 * other nodes, so a load balancer should send peers elsewhere).
 *
 * The body is built field by field from a fixed list, never by spreading
 * what the node reports: no token, secret, Redis URL (it may hold a
 * password) or lease MAC can reach it, whatever those reports gain later.
 */
import type { ClusterNodeHealth } from './cluster/health.js';
import type { RendezvousStats } from './stats.js';

/** Why a node is not healthy; stable codes a probe or a script can match. */
export type HealthReason = 'not-listening' | 'redis-disconnected' | 'lease-not-held';

/** The cluster part of the health body: the node's view, without anything secret. */
export interface ClusterHealthReport {
  readonly node: string;
  readonly incarnation: string;
  readonly advertise: string;
  readonly redis: 'connected' | 'disconnected';
  readonly lease: { readonly held: boolean; readonly ageMs: number | null; readonly ttlMs: number; readonly losses: number };
  readonly claims: { readonly wanted: number; readonly held: number; readonly lost: number };
  readonly bus: ClusterNodeHealth['bus'];
  readonly sessions: ClusterNodeHealth['sessions'];
}

export interface RendezvousHealth {
  /** Healthy: answer 200 (else 503). */
  readonly ok: boolean;
  /** Why not (empty when ok). */
  readonly reasons: readonly HealthReason[];
  readonly listening: boolean;
  /** TCP control connections open now (logged in or not). */
  readonly connections: number;
  readonly peers: { readonly provider: number; readonly visitor: number };
  readonly services: number;
  readonly relayLinks: number;
  /** null for a node that runs alone. */
  readonly cluster: ClusterHealthReport | null;
}

export interface HealthInput {
  readonly listening: boolean;
  readonly stats: RendezvousStats;
  readonly cluster: ClusterNodeHealth | null;
}

export function rendezvousHealth(input: HealthInput): RendezvousHealth {
  const { stats, cluster } = input;
  const reasons: HealthReason[] = [];
  if (!input.listening) reasons.push('not-listening');
  if (cluster !== null && cluster.redis !== 'connected') reasons.push('redis-disconnected');
  if (cluster !== null && !cluster.lease.held) reasons.push('lease-not-held');
  return {
    ok: reasons.length === 0,
    reasons,
    listening: input.listening,
    connections: stats.connections,
    peers: { provider: stats.peersByRole.provider, visitor: stats.peersByRole.visitor },
    services: stats.services,
    relayLinks: stats.relayLinks,
    cluster: cluster === null ? null : clusterReport(cluster),
  };
}

/** The HTTP answer for a health report: 200 when healthy, 503 otherwise. */
export function healthStatus(h: RendezvousHealth): 200 | 503 {
  return h.ok ? 200 : 503;
}

function clusterReport(c: ClusterNodeHealth): ClusterHealthReport {
  const { lease, claims, bus, sessions } = c;
  return {
    node: c.node,
    incarnation: c.incarnation,
    advertise: c.advertise,
    redis: c.redis,
    lease: { held: lease.held, ageMs: lease.ageMs === null ? null : Math.round(lease.ageMs), ttlMs: lease.ttlMs, losses: lease.losses },
    claims: { wanted: claims.wanted, held: claims.held, lost: claims.lost },
    bus: { listening: bus.listening, sent: bus.sent, nodeGone: bus.nodeGone, sendFailed: bus.sendFailed, received: bus.received, dropped: { ...bus.dropped } },
    sessions: {
      forwarded: sessions.forwarded,
      forwardFailed: sessions.forwardFailed,
      remoteConnects: sessions.remoteConnects,
      remotePeers: sessions.remotePeers,
      namesTaken: sessions.namesTaken,
    },
  };
}
