/**
 * A NAT's behaviour in one word, for metric labels: a small fixed set, so a
 * label keyed on it stays bounded whatever peers report.
 */
import type { SessionNatInfo } from '../punch/nat-plan.js';

export type NatClass = 'no_udp' | 'cone' | 'symmetric_preserving' | 'symmetric_sequential' | 'symmetric_random' | 'unknown';

export const NAT_CLASSES: readonly NatClass[] = ['no_udp', 'cone', 'symmetric_preserving', 'symmetric_sequential', 'symmetric_random', 'unknown'];

/**
 * cone: one mapping per socket, whatever the destination (endpoint-independent);
 * symmetric_*: a new mapping per destination, by how its port is chosen.
 * Undefined (the peer sent no NAT information) is unknown.
 */
export function natClass(nat: Pick<SessionNatInfo, 'udp' | 'mapping' | 'allocation'> | undefined): NatClass {
  if (nat === undefined) return 'unknown';
  if (!nat.udp) return 'no_udp';
  if (nat.mapping === 'independent') return 'cone';
  if (nat.mapping === 'unknown') return 'unknown';
  return nat.allocation === 'unknown' ? 'unknown' : `symmetric_${nat.allocation}`;
}
