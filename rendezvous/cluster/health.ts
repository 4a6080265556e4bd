import type { BusDropReason } from './bus-codec.js';
import type { LeaseValue } from './lease-value.js';

/**
 * A node's view of the cluster, as a plain object: what a health endpoint
 * serves and metrics read. `nodes` is null when Redis did not answer.
 */
export interface ClusterHealth {
  readonly node: string;
  readonly incarnation: string;
  readonly advertise: string;
  readonly redis: 'connected' | 'disconnected';
  readonly lease: {
    readonly held: boolean;
    /** Since the send of the last renew Redis confirmed (null before the first). */
    readonly ageMs: number | null;
    readonly ttlMs: number;
    /** Times the lease was lost (gone, taken or expired) since start. */
    readonly losses: number;
  };
  readonly claims: { readonly wanted: number; readonly held: number; readonly lost: number };
  readonly bus: {
    /** Its bus connection to Redis is up. */
    readonly listening: boolean;
    readonly sent: number;
    /** Sends that found nobody subscribed (PUBLISH answered 0). */
    readonly nodeGone: number;
    /** Sends Redis did not take (disconnected, timeout) or that were too big. */
    readonly sendFailed: number;
    readonly received: number;
    readonly dropped: Readonly<Record<BusDropReason, number>>;
  };
}

export interface ClusterView extends ClusterHealth {
  /** Nodes with a live, verified lease (this one included when its lease is live). */
  readonly nodes: readonly LeaseValue[] | null;
  /** Lease keys whose value does not verify with the cluster secret. */
  readonly unverifiedLeases: number;
}

/** Sessions between nodes, as this node's server saw them. */
export interface ClusterSessionStats {
  /** Visitors' connects this node sent on to the provider's node. */
  readonly forwarded: number;
  /** Of those, the ones that failed at once: the provider's node was gone, or Redis did not take the message. */
  readonly forwardFailed: number;
  /** Connects from visitors on other nodes to this node's providers. */
  readonly remoteConnects: number;
  /** Visitors on other nodes with a setup or a punch pair here now. */
  readonly remotePeers: number;
  /** Registrations refused because another node holds the name. */
  readonly namesTaken: number;
}

/** A node's health as its server reports it: the cluster layer's view plus the sessions between nodes. */
export interface ClusterNodeHealth extends ClusterHealth {
  readonly sessions: ClusterSessionStats;
}
