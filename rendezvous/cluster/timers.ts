import { BurrowError } from '../../src/errors.js';

/**
 * Every timer of the cluster layer, in one table (like src/direct/timers.ts):
 * its duration and what arms it. The code reads its values from here only.
 *
 * Node lease (LeaseMachine):
 *  - leaseTtlMs       the lease key's PX: a node that stops refreshing (killed,
 *                     SIGSTOPped, cut off from Redis) counts as gone this long
 *                     after its last refresh, and its names stop resolving.
 *  - leaseRefreshMs   refresh period, ttl/3: two refreshes may fail before the
 *                     lease lapses.
 *  - leaseRetryMs     acquiring failed (Redis down, the key held by another
 *                     incarnation): try again after this long.
 *  A node also counts its own lease as lapsed, without asking Redis, once
 *  leaseTtlMs has passed since it *sent* its last successful refresh: Redis
 *  may already have dropped the key, so the node must not act as if it held it.
 *
 * Service claims (ClaimBook):
 *  - claimTtlMs       a claim key's PX. Lookups do not depend on it (they check
 *                     the owner's lease); it only lets Redis forget claims of
 *                     nodes that never come back.
 *  - claimRefreshMs   every held name is claimed again this often (idempotent
 *                     for the owner); this also re-registers them after Redis
 *                     lost its keys, or reports names another node took.
 *
 * Lookups (LookupCache):
 *  - lookupCacheMs    a positive lookup is reused this long; a name that moved
 *                     is thus seen at most this late (a bus message to the old
 *                     node then reports node-gone or no such peer, and the
 *                     sender looks up again, bypassing the cache).
 *
 * Bus (BusReceiver):
 *  - busMaxSkewMs     a message stamped further than this from the receiver's
 *                     wall clock is dropped as stale (bounds replays across
 *                     the receiver's replay windows being reset).
 *
 * Sessions between nodes (the server's ClusterBridge):
 *  - claimWaitRetryMs a provider registers a name Redis says a live node holds,
 *                     but that node's process is gone (its bus channel has no
 *                     listener: killed, crashed) and its lease has not lapsed
 *                     yet. The provider most likely moved here from it, so
 *                     claim again this often, for at most leaseTtlMs plus one
 *                     retry, before answering NAME_TAKEN.
 *  - forwardAnswerMs  a visitor's connect sent to the provider's node is failed
 *                     (TIMEOUT) when that node has not answered by then: the
 *                     bus delivers at most once, and a frozen node takes
 *                     messages without answering. A provider answers in
 *                     milliseconds; this only bounds the lost cases.
 *  - forwardRetryMs   the provider's node was found gone on the send: its
 *                     provider is probably moving to another node, so the
 *                     name is looked up again this often, for at most
 *                     leaseTtlMs plus two retries, before the visitor is told.
 *  - remotePeerSweepMs visitors on other nodes with sessions here are dropped
 *                     when their node's incarnation no longer holds a live
 *                     lease, checked this often (a node that died never sends
 *                     their peer-gone).
 *
 * Redis connection (ClusterNode's shell):
 *  - redisCommandTimeoutMs  a command unanswered this long fails (a stopped
 *                     Redis must not hold a refresh forever).
 *  - redisReconnectMaxMs   reconnect back-off cap.
 */
export const CLUSTER_TIMERS = {
  leaseTtlMs: 6000,
  leaseRefreshMs: 2000,
  leaseRetryMs: 1000,

  claimTtlMs: 30_000,
  claimRefreshMs: 10_000,

  lookupCacheMs: 1000,

  busMaxSkewMs: 30_000,

  claimWaitRetryMs: 500,
  forwardAnswerMs: 8000,
  forwardRetryMs: 500,
  remotePeerSweepMs: 15_000,

  redisCommandTimeoutMs: 1000,
  redisReconnectMaxMs: 1000,
} as const;

export type ClusterTimers = { readonly [K in keyof typeof CLUSTER_TIMERS]: number };

/**
 * Refuses timer tables that cannot work: a lease must survive two missed
 * refreshes, and a command must time out before the next refresh is due.
 */
export function checkTimers(t: ClusterTimers): ClusterTimers {
  for (const [k, v] of Object.entries(t)) {
    if (!Number.isFinite(v) || v < 0) throw new BurrowError('ERR_CONFIG', `cluster timer ${k} must be a non-negative number of ms`);
  }
  if (t.leaseRefreshMs <= 0 || t.leaseTtlMs < 2 * t.leaseRefreshMs) throw new BurrowError('ERR_CONFIG', 'leaseTtlMs must be at least twice leaseRefreshMs');
  if (t.redisCommandTimeoutMs <= 0 || t.redisCommandTimeoutMs >= t.leaseRefreshMs) throw new BurrowError('ERR_CONFIG', 'redisCommandTimeoutMs must be shorter than leaseRefreshMs');
  if (t.claimRefreshMs <= 0 || t.claimTtlMs < 2 * t.claimRefreshMs) throw new BurrowError('ERR_CONFIG', 'claimTtlMs must be at least twice claimRefreshMs');
  return t;
}
