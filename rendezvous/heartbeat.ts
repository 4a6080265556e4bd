/**
 * The rendezvous's side of its peers' heartbeats, sans-I/O: given what a
 * peer last sent and what we last sent it, what the heartbeat tick does to
 * it now. The server's loop only applies the answer.
 *
 * Three jobs, and what each needs:
 * - drop a peer that went silent (it pings every 5 s; older ones at least
 *   answer our pings): nothing from it for `timeoutMs`;
 * - keep the peer's own silence timer (20 s, armed by any message) from
 *   firing: it must hear from us every tick. A peer that pings gets a pong
 *   every 5 s and needs nothing more; one that does not ping is pinged;
 * - keep a recent round-trip time per peer for punch timing: the login
 *   sends a first ping, then one every `rttRefreshMs` (a minute: a path's
 *   RTT drifts slowly, and this ping is most of an idle node's writes).
 */
import type { RendezvousLimits } from './limits.js';

/** Every duration of the heartbeat, in one table. */
export interface HeartbeatTimers {
  /** The loop's period (RendezvousLimits.heartbeatIntervalMs). */
  readonly tickMs: number;
  /** A peer silent this long is dropped (RendezvousLimits.heartbeatTimeoutMs). */
  readonly timeoutMs: number;
  /**
   * A peer that heard nothing from us for this long is pinged at the tick.
   * Half a tick: whatever it sends, it hears from us within 1.5 ticks (15 s,
   * under its 20 s silence timeout), and one that pings every 5 s as ours do
   * has always just had a pong.
   */
  readonly keepaliveAfterMs: number;
  /** Our RTT ping to a peer is sent again this long after the previous one (RendezvousLimits.rttRefreshMs). */
  readonly rttRefreshMs: number;
}

export function heartbeatTimers(limits: Pick<RendezvousLimits, 'heartbeatIntervalMs' | 'heartbeatTimeoutMs' | 'rttRefreshMs'>): HeartbeatTimers {
  return {
    tickMs: limits.heartbeatIntervalMs,
    timeoutMs: limits.heartbeatTimeoutMs,
    keepaliveAfterMs: limits.heartbeatIntervalMs / 2,
    rttRefreshMs: limits.rttRefreshMs,
  };
}

/** What the server knows of one logged-in peer's liveness (times on the scheduler's clock). */
export interface PeerLiveness {
  /** Its latest message of any kind. */
  lastSeen: number;
  /** Our latest pong to it. */
  lastPong: number;
  /** Our latest ping to it (the login's first, or a tick's). */
  lastPing: number;
}

export type HeartbeatAction = 'drop' | 'ping' | 'none';

/** What the tick at `now` does to a peer. */
export function heartbeatAction(p: PeerLiveness, now: number, t: HeartbeatTimers): HeartbeatAction {
  if (now - p.lastSeen > t.timeoutMs) return 'drop';
  if (now - p.lastPing >= t.rttRefreshMs) return 'ping';
  if (now - Math.max(p.lastPing, p.lastPong) >= t.keepaliveAfterMs) return 'ping';
  return 'none';
}

/** A new peer's liveness, at login (where the server sends its first ping). */
export function livenessAtLogin(now: number): PeerLiveness {
  return { lastSeen: now, lastPong: -Infinity, lastPing: now };
}
