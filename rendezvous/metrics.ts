/**
 * The rendezvous's Prometheus metrics, read from the counts it keeps
 * (RendezvousStats, the STUN services' stats) at each scrape. One registry
 * per rendezvous: tests run several in one process. No label carries a
 * service name, an address or a session id: peers choose those, so they are
 * unbounded here.
 */
import { labelValue } from '../src/metrics/label-value.js';
import { Counter, Gauge, Registry } from 'prom-client';
import { CONTROL_ERROR_CODES } from '../src/control/index.js';
import type { RendezvousStats } from './server.js';
import type { RefusalReason } from './traffic-counts.js';
import type { StunDropReason } from './stun-responder.js';
import type { UdpServiceStats } from './udp-service.js';
import type { ClusterNodeHealth } from './cluster/health.js';
import { registerClusterMetrics } from './cluster-metrics.js';

/** What the metrics read: a Rendezvous has them all. */
export interface RendezvousMetricsSource {
  readonly stats: RendezvousStats;
  readonly udpAll: readonly { readonly stats: UdpServiceStats }[];
  /** A cluster node's view (null when it runs alone): the cluster metrics, for a node in a cluster when the registry is built. */
  clusterHealth?(): ClusterNodeHealth | null;
}

const REFUSAL_REASONS: readonly RefusalReason[] = [...CONTROL_ERROR_CODES, 'TOO_MANY_UNAUTHENTICATED'];
const STUN_DROPS: readonly StunDropReason[] = ['malformed', 'not-binding-request', 'unknown-attribute', 'change-unavailable', 'rate-limited', 'too-small'];


export function rendezvousRegistry(rv: RendezvousMetricsSource): Registry {
  const registry = new Registry();
  const registers = [registry];
  new Gauge({
    name: 'burrow_rendezvous_peers',
    help: 'Peers logged in now, by role.',
    labelNames: ['role'] as const,
    registers,
    collect() {
      const { peersByRole } = rv.stats;
      this.set({ role: 'provider' }, peersByRole.provider);
      this.set({ role: 'visitor' }, peersByRole.visitor);
    },
  });
  new Gauge({
    name: 'burrow_rendezvous_services',
    help: 'Service names registered by providers now.',
    registers,
    collect() {
      this.set(rv.stats.services);
    },
  });
  new Gauge({
    name: 'burrow_rendezvous_connections',
    help: 'TCP control connections open now (logged in or not yet; relay links not included).',
    registers,
    collect() {
      this.set(rv.stats.connections);
    },
  });
  new Gauge({
    name: 'burrow_rendezvous_relay_links',
    help: 'Sessions with a relay link spliced through this rendezvous now (every session has one while it lasts, stcp and xtcp).',
    registers,
    collect() {
      this.set(rv.stats.relayLinks);
    },
  });
  new Gauge({
    name: 'burrow_rendezvous_punch_pairs',
    help: 'xtcp sessions whose punches this rendezvous may broker now (whether a punch worked only the peers know).',
    registers,
    collect() {
      this.set(rv.stats.punchPairs);
    },
  });
  new Counter({
    name: 'burrow_rendezvous_punch_attempts_total',
    help: 'Punch attempts brokered, by how they ended here (introduced: both sides offered candidates; declined: a side offered none; timeout: a side sent nothing) and each side\'s NAT class.',
    labelNames: ['outcome', 'visitor_nat', 'provider_nat'] as const,
    registers,
    collect() {
      this.reset();
      for (const o of rv.stats.punchOutcomes) this.inc({ outcome: o.outcome, visitor_nat: o.visitorNat, provider_nat: o.providerNat }, o.count);
    },
  });
  new Counter({
    name: 'burrow_rendezvous_relay_bytes_total',
    help: 'Bytes relayed between peers (sealed; live links included), by direction.',
    labelNames: ['direction'] as const,
    registers,
    collect() {
      const bytes = rv.stats.relayBytesByDirection;
      this.reset();
      this.inc({ direction: 'to_provider' }, bytes.toProvider);
      this.inc({ direction: 'to_visitor' }, bytes.toVisitor);
    },
  });
  new Counter({
    name: 'burrow_rendezvous_refusals_total',
    help: 'Errors sent to peers and connections turned away, by reason (bad_token, secret_mismatch as the provider reported it, busy, too_many_unauthenticated, ...).',
    labelNames: ['reason'] as const,
    registers,
    collect() {
      const { refusals } = rv.stats;
      this.reset();
      for (const r of REFUSAL_REASONS) this.inc({ reason: labelValue(r) }, refusals[r] ?? 0);
    },
  });
  new Counter({
    name: 'burrow_rendezvous_invalid_frames_total',
    help: 'Control frames refused as malformed or not matching any message schema.',
    registers,
    collect() {
      this.reset();
      this.inc(rv.stats.invalidFrames);
    },
  });
  new Counter({
    name: 'burrow_rendezvous_stun_requests_total',
    help: 'STUN requests on the UDP ports (every address family), by outcome: answered, or the reason it was dropped.',
    labelNames: ['outcome'] as const,
    registers,
    collect() {
      const all = rv.udpAll.map((u) => u.stats);
      this.reset();
      this.inc({ outcome: 'answered' }, all.reduce((n, s) => n + s.answered, 0));
      for (const d of STUN_DROPS) this.inc({ outcome: labelValue(d) }, all.reduce((n, s) => n + s.dropped[d], 0));
    },
  });
  if (rv.clusterHealth?.() != null) registerClusterMetrics(registry, () => rv.clusterHealth?.() ?? null);
  return registry;
}
