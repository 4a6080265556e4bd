import type { Scheduler } from '../../src/clock/scheduler.js';
import { settledBy } from '../../src/clock/settled-by.js';
import { DIRECT_TIMERS } from '../../src/direct/index.js';
import { noUdp, type DiscoveryResult } from './options.js';

/** What a session socket whose discovery did not finish in time offers: nothing, and why. */
export function tooSlow(family: 'IPv4' | 'IPv6', other: 'IPv4' | 'IPv6'): DiscoveryResult {
  return noUdp(`no STUN answer over ${family} in time`, `no STUN answer over ${family} within ${DIRECT_TIMERS.familyDiscoveryGraceMs} ms of the ${other} one`);
}

/**
 * Address discovery on an attempt's two session sockets at once. Whichever
 * family answers first with UDP working, the other gets at most
 * DIRECT_TIMERS.familyDiscoveryGraceMs more (or until `notBefore`, the end of
 * the port-map grace, when that is later): a family that never answers —
 * IPv4 UDP blocked, an IPv6 address without an IPv6 route — must not hold
 * the offer for a whole STUN timeout. A family that found no UDP waits for
 * the other in full. null: that family did not finish in time.
 */
export async function discoverBoth(
  primary: Promise<DiscoveryResult>,
  second: Promise<DiscoveryResult> | null,
  scheduler: Scheduler,
  notBefore: number,
): Promise<{ primary: DiscoveryResult | null; second: DiscoveryResult | null }> {
  if (second === null) return { primary: await primary, second: null };
  const first = await Promise.race([primary.then((r) => ({ primaryFirst: true, r })), second.then((r) => ({ primaryFirst: false, r }))]);
  const other = first.primaryFirst ? second : primary;
  const rest = first.r.nat.udp ? await settledBy(other, scheduler, Math.max(notBefore, scheduler.now() + DIRECT_TIMERS.familyDiscoveryGraceMs)) : await other;
  return first.primaryFirst ? { primary: first.r, second: rest } : { primary: rest, second: first.r };
}
