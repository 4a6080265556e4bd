import { DIRECT_TIMERS } from './timers.js';

/**
 * The keepalive interval for the next locked paths after one died.
 *
 * A path that dies after idling tells us this NAT forgets mappings sooner
 * than our keepalive: keep future paths alive more often, at half the quiet
 * time that killed it (and at most half the current interval), never below
 * the floor. A path that died while busy (idle under a second) says nothing
 * about mapping lifetimes and changes nothing.
 *
 * Returns the new interval, or null when it stays as it is.
 */
export function shortenedKeepalive(currentMs: number, idleBeforeLossMs: number | null): number | null {
  if (idleBeforeLossMs === null || idleBeforeLossMs < DIRECT_TIMERS.keepaliveFloorMs) return null;
  const next = Math.max(DIRECT_TIMERS.keepaliveFloorMs, Math.min(currentMs / 2, idleBeforeLossMs / 2));
  return next < currentMs ? next : null;
}
