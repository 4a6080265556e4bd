import type { Redis } from 'ioredis';
import { parseClaimAnswer, type ClaimAnswer } from './claims.js';
import { LEASE_PREFIX, channelOf, claimKey, leaseKey, type NodeAddress } from './keys.js';
import { formatClaim, parseClaim, parseLease, type LeaseValue } from './lease-value.js';
import type { RenewResult } from './lease.js';
import type { ServiceLocation } from './lookup-cache.js';
import { CLAIM, LOOKUP, RELEASE, RENEW_LEASE, SEND } from './scripts.js';
import type { ClusterSecret } from './secret.js';

/**
 * The cluster's Redis commands, one function each: what to send and how to
 * read the answer. No state, no timers (ClusterNode has those); every
 * function resolves, never rejects: a failed command is an 'error' answer.
 */

/** Deletes a key only while it holds `value` (a node leaving, or releasing its lease). */
const DELETE_IF = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Nodes listed at most by a health view (SCAN stops there). */
export const MAX_NODES_LISTED = 1000;

export async function renewLease(redis: Redis, node: string, value: string, ttlMs: number): Promise<RenewResult> {
  try {
    const r = await redis.eval(RENEW_LEASE, 1, leaseKey(node), value, ttlMs);
    return r === 1 ? 'extended' : r === 2 ? 'created' : r === 0 ? 'taken' : 'error';
  } catch {
    return 'error';
  }
}

export async function leave(redis: Redis, node: string, value: string): Promise<void> {
  await redis.eval(DELETE_IF, 1, leaseKey(node), value).catch(() => {});
}

export async function claimNames(
  redis: Redis,
  secret: ClusterSecret,
  self: NodeAddress,
  names: readonly string[],
  claimTtlMs: number,
): Promise<ClaimAnswer[]> {
  try {
    const values = names.map((n) => formatClaim(secret, n, self.node, self.incarnation));
    const r = await redis.eval(CLAIM, 1 + names.length, leaseKey(self.node), ...names.map(claimKey), self.node, self.incarnation, claimTtlMs, LEASE_PREFIX, ...values);
    if (!Array.isArray(r)) return names.map(() => ({ kind: 'error' }));
    if (r.length === 1 && r[0] === 'no-lease') return names.map(() => ({ kind: 'no-lease' }));
    return names.map((_, i) => parseClaimAnswer(r[i]));
  } catch {
    return names.map(() => ({ kind: 'error' }));
  }
}

/**
 * Publishes a bus frame to a node incarnation if its lease is live: how many
 * received it (0: nobody subscribed), 'no-lease' (that incarnation is not
 * live), or 'error' (Redis did not answer).
 */
export async function publishTo(redis: Redis, to: NodeAddress, frame: Buffer): Promise<number | 'no-lease' | 'error'> {
  try {
    const r = await redis.eval(SEND, 1, leaseKey(to.node), to.incarnation, channelOf(to.node), frame);
    if (r === -1) return 'no-lease';
    return typeof r === 'number' && r >= 0 ? r : 'error';
  } catch {
    return 'error';
  }
}

export async function releaseName(redis: Redis, self: NodeAddress, name: string): Promise<void> {
  await redis.eval(RELEASE, 1, claimKey(name), self.node, self.incarnation).catch(() => {});
}

export type LookupAnswer =
  | { readonly kind: 'found'; readonly loc: ServiceLocation }
  /** No claim, or its owner's lease is not live. */
  | { readonly kind: 'none' }
  /** A claim or lease whose MAC does not check: written without the cluster secret. */
  | { readonly kind: 'unverified' }
  | { readonly kind: 'error' };

export async function lookupName(redis: Redis, secret: ClusterSecret, name: string): Promise<LookupAnswer> {
  let r: unknown;
  try {
    r = await redis.eval(LOOKUP, 1, claimKey(name), LEASE_PREFIX);
  } catch {
    return { kind: 'error' };
  }
  if (r === null) return { kind: 'none' };
  if (!Array.isArray(r) || typeof r[0] !== 'string' || typeof r[1] !== 'string') return { kind: 'error' };
  const claim = parseClaim(secret, name, r[0]);
  const lease = claim === null ? null : parseLease(secret, claim.node, r[1]);
  if (claim === null || lease === null || lease.incarnation !== claim.incarnation) return { kind: 'unverified' };
  return { kind: 'found', loc: { node: lease.node, incarnation: lease.incarnation, advertise: lease.advertise } };
}

/** The live nodes (verified leases), and how many lease keys did not verify; null if Redis did not answer. */
export async function listNodes(redis: Redis, secret: ClusterSecret): Promise<{ nodes: LeaseValue[]; unverified: number } | null> {
  try {
    const keys: string[] = [];
    let cursor = '0';
    // Bounded in rounds as well as keys: SCAN may return few keys per round.
    for (let round = 0; round < 100 && keys.length < MAX_NODES_LISTED; round++) {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${LEASE_PREFIX}*`, 'COUNT', 500);
      keys.push(...batch.slice(0, MAX_NODES_LISTED - keys.length));
      cursor = next;
      if (cursor === '0') break;
    }
    const unique = [...new Set(keys)];
    const values = unique.length === 0 ? [] : await redis.mget(...unique);
    const nodes: LeaseValue[] = [];
    let unverified = 0;
    unique.forEach((key, i) => {
      const raw = values[i];
      if (raw === null || raw === undefined) return;
      const lease = parseLease(secret, key.slice(LEASE_PREFIX.length), raw);
      if (lease === null) unverified++;
      else nodes.push(lease);
    });
    nodes.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    return { nodes, unverified };
  } catch {
    return null;
  }
}

