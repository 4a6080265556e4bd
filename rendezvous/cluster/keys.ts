/**
 * What the cluster keeps in Redis, by key name (one definition; the Lua
 * scripts receive these names as arguments, never build other ones except
 * the owner's lease key, from LEASE_PREFIX).
 *
 *  cluster:node:<node>   the node's lease: "<incarnation> <advertise> <mac>", PX leaseTtlMs
 *  cluster:svc:<name>    a service claim: "<node> <incarnation> <mac>", PX claimTtlMs
 *  cluster:to:<node>     the pub/sub channel of a node's bus
 */
import { BurrowError } from '../../src/errors.js';

export const LEASE_PREFIX = 'cluster:node:';
export const CLAIM_PREFIX = 'cluster:svc:';
export const CHANNEL_PREFIX = 'cluster:to:';

/** Node ids: like service names, so they fit in keys, channels and log lines unquoted. */
export const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** An incarnation: 12 random bytes as hex, new at every start of a node. */
export const INCARNATION = /^[0-9a-f]{24}$/;

export function leaseKey(node: string): string {
  return LEASE_PREFIX + node;
}

export function claimKey(name: string): string {
  return CLAIM_PREFIX + name;
}

export function channelOf(node: string): string {
  return CHANNEL_PREFIX + node;
}

export function checkNodeId(node: string): string {
  if (!NODE_ID.test(node)) {
    throw new BurrowError('ERR_CONFIG', `node id "${node.slice(0, 80)}" must be 1-63 letters, digits, ".", "_" or "-"`);
  }
  return node;
}

/** A node as the bus addresses it: its id and the incarnation whose lease is live. */
export interface NodeAddress {
  readonly node: string;
  readonly incarnation: string;
}
