import { INCARNATION } from './keys.js';
import { MAC_BYTES, type ClusterSecret } from './secret.js';

/**
 * A lease key's value: "<incarnation> <advertise> <mac>", the MAC (base64url)
 * over the node id, incarnation and advertised address with the cluster
 * secret. Lua reads only the first word; nodes verify the MAC, so a lease
 * written by someone without the secret never counts as a live node.
 */
export interface LeaseValue {
  readonly node: string;
  readonly incarnation: string;
  /** Where peers and other nodes reach this node: HOST:PORT. */
  readonly advertise: string;
}

/** host:port, [v6]:port or a DNS name: no spaces, bounded. */
const ADVERTISE = /^[^\s]{1,300}$/;

export function isAdvertise(s: string): boolean {
  return ADVERTISE.test(s);
}

export function formatLease(secret: ClusterSecret, v: LeaseValue): string {
  const mac = secret.mac('lease', [v.node, v.incarnation, v.advertise]).toString('base64url');
  return `${v.incarnation} ${v.advertise} ${mac}`;
}

/** The lease of `node` if `raw` is well-formed and its MAC checks; null otherwise. */
export function parseLease(secret: ClusterSecret, node: string, raw: string): LeaseValue | null {
  if (raw.length > 512) return null;
  const parts = raw.split(' ');
  if (parts.length !== 3) return null;
  const [incarnation, advertise, mac] = parts as [string, string, string];
  if (!INCARNATION.test(incarnation) || !isAdvertise(advertise)) return null;
  const macBytes = Buffer.from(mac, 'base64url');
  if (macBytes.length !== MAC_BYTES) return null;
  if (!secret.verify('lease', [node, incarnation, advertise], macBytes)) return null;
  return { node, incarnation, advertise };
}

/**
 * A claim key's value: "<node> <incarnation> <mac>", the MAC over the service
 * name, node and incarnation. A claim that does not verify is ignored by
 * lookups (and taken over by the next claimer, as the Lua script sees no live
 * owner lease for a node id that has none).
 */
export function formatClaim(secret: ClusterSecret, name: string, node: string, incarnation: string): string {
  return `${node} ${incarnation} ${secret.mac('claim', [name, node, incarnation]).toString('base64url')}`;
}

export function parseClaim(secret: ClusterSecret, name: string, raw: string): { node: string; incarnation: string } | null {
  if (raw.length > 256) return null;
  const parts = raw.split(' ');
  if (parts.length !== 3) return null;
  const [node, incarnation, mac] = parts as [string, string, string];
  const macBytes = Buffer.from(mac, 'base64url');
  if (macBytes.length !== MAC_BYTES) return null;
  if (!secret.verify('claim', [name, node, incarnation], macBytes)) return null;
  return { node, incarnation };
}
