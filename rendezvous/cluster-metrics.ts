/**
 * A cluster node's Prometheus metrics (burrow_rendezvous_cluster_*), read
 * from its clusterHealth() at each scrape. Registered only for a node that
 * runs in a cluster. Labels come from fixed lists: no node id, address or
 * service name (the scrape target already says which node it is).
 */
import { labelValue } from '../src/metrics/label-value.js';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BusDropReason } from './cluster/bus-codec.js';
import type { ClusterNodeHealth } from './cluster/health.js';

/** Every reason a bus frame is dropped; the compiler checks the list is complete. */
const BUS_DROPS = Object.keys({
  'too-big': true,
  'bad-mac': true,
  malformed: true,
  'not-for-us': true,
  stale: true,
  replayed: true,
} satisfies Record<BusDropReason, true>) as BusDropReason[];

/**
 * Adds the cluster metrics to `registry`. `read` is called once per metric
 * per scrape; null (the node left the cluster) leaves the values as they were.
 */
export function registerClusterMetrics(registry: Registry, read: () => ClusterNodeHealth | null): void {
  const registers = [registry];
  const gauge = (name: string, help: string, value: (h: ClusterNodeHealth) => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const h = read();
        if (h !== null) this.set(value(h));
      },
    });
  };
  const counter = (name: string, help: string, value: (h: ClusterNodeHealth) => number): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        const h = read();
        if (h === null) return;
        this.reset();
        this.inc(value(h));
      },
    });
  };
  const p = 'burrow_rendezvous_cluster_';

  gauge(`${p}lease_held`, 'This node holds its lease in Redis (1) or not (0): without it its names do not resolve for the other nodes.', (h) => (h.lease.held ? 1 : 0));
  gauge(`${p}redis_connected`, 'The node\'s command connection to Redis is up (1) or not (0).', (h) => (h.redis === 'connected' ? 1 : 0));
  gauge(`${p}bus_listening`, 'The node\'s bus (subscriber) connection to Redis is up (1) or not (0).', (h) => (h.bus.listening ? 1 : 0));
  counter(`${p}lease_losses_total`, 'Times the lease was lost (expired, gone from Redis or taken by another incarnation) since start.', (h) => h.lease.losses);
  new Gauge({
    name: `${p}claims`,
    help: 'Service names this node claims in Redis, by state: wanted (its providers registered them), held (Redis confirmed them).',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const h = read();
      if (h === null) return;
      this.set({ state: 'wanted' }, h.claims.wanted);
      this.set({ state: 'held' }, h.claims.held);
    },
  });
  counter(`${p}claims_lost_total`, 'Names this node held that a re-claim found held by another live node.', (h) => h.claims.lost);
  new Counter({
    name: `${p}bus_messages_total`,
    help: 'Messages on the bus between nodes, by direction (sent: taken by Redis for a live node; received: accepted after every check).',
    labelNames: ['direction'] as const,
    registers,
    collect() {
      const h = read();
      if (h === null) return;
      this.reset();
      this.inc({ direction: 'sent' }, h.bus.sent);
      this.inc({ direction: 'received' }, h.bus.received);
    },
  });
  counter(`${p}bus_node_gone_total`, 'Sends whose addressee was not a live node (dead, frozen past its lease, restarted).', (h) => h.bus.nodeGone);
  counter(`${p}bus_send_failed_total`, 'Sends Redis did not take (disconnected, timed out) or that were too big.', (h) => h.bus.sendFailed);
  new Counter({
    name: `${p}bus_dropped_total`,
    help: 'Bus frames received and dropped, by reason (bad_mac: not signed with the cluster secret; replayed, stale, not_for_us, malformed, too_big).',
    labelNames: ['reason'] as const,
    registers,
    collect() {
      const h = read();
      if (h === null) return;
      this.reset();
      for (const r of BUS_DROPS) this.inc({ reason: labelValue(r) }, h.bus.dropped[r]);
    },
  });
  counter(`${p}forwarded_total`, 'Visitors\' connects this node sent on to the provider\'s node.', (h) => h.sessions.forwarded);
  counter(`${p}forward_failed_total`, 'Of those, the ones that failed at once (the provider\'s node gone, or Redis did not take the message).', (h) => h.sessions.forwardFailed);
  counter(`${p}remote_connects_total`, 'Connects from visitors on other nodes to this node\'s providers.', (h) => h.sessions.remoteConnects);
  gauge(`${p}remote_peers`, 'Visitors on other nodes with a session setup or a punch pair here now.', (h) => h.sessions.remotePeers);
  counter(`${p}names_taken_total`, 'Provider registrations refused because another node holds the name.', (h) => h.sessions.namesTaken);
}
