import { addressFamily } from '../net/ip.js';

/**
 * Which of two working paths a punch keeps. A LAN path always wins. Else the
 * lower measured round trip wins, IPv6 counted at IPV6_RTT_FACTOR of its RTT:
 * with both families open, IPv6 is kept unless IPv4 is clearly faster (an
 * IPv6 path has no NAT mapping to expire or be flushed, and stays direct
 * where the IPv4 NAT changes).
 */
export const IPV6_RTT_FACTOR = 0.9;

/** Added to the wait for the other family's answer: timers and the event loop are not exact. */
export const FAMILY_WAIT_SLACK_MS = 5;

export interface PathChoice {
  address: string;
  rttMs: number;
  lan: boolean;
}

function score(p: PathChoice): number {
  if (p.lan) return -Infinity;
  return addressFamily(p.address) === 6 ? p.rttMs * IPV6_RTT_FACTOR : p.rttMs;
}

/** The better of two paths (the first on a tie: it answered first). */
export function choosePath<T extends PathChoice>(a: T, b: T): T {
  return score(b) < score(a) ? b : a;
}

/**
 * How long after an IPv4 path answered an IPv6 answer could still win: its
 * probe left in the same round, so it would arrive within rtt / factor of
 * that probe. An IPv6 answer that came first cannot be beaten by an IPv4 one
 * still to come (that one's RTT is already longer), so IPv6 waits for nothing.
 */
export function otherFamilyWaitMs(first: PathChoice): number {
  if (addressFamily(first.address) === 6) return 0;
  return first.rttMs * (1 / IPV6_RTT_FACTOR - 1) + FAMILY_WAIT_SLACK_MS;
}
