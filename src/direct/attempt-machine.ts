import type { Role } from '../role.js';
import { shortenedKeepalive } from './keepalive-policy.js';
import { DIRECT_TIMERS, retryDelayMs } from './timers.js';

/**
 * Where the direct side of a session stands. `gathering`: an attempt's socket
 * is being opened, asked for its address, its offer sent; `punching`: the
 * rendezvous answered and probes are flying.
 */
export type AttemptPhase =
  | 'idle'
  | 'waiting-start'
  | 'gathering'
  | 'punching'
  | 'locked'
  | 'waiting-retry'
  | 'hopeless-wait'
  | 'gave-up'
  | 'closed';

/** The timers the machine owns (see timers.ts). At most one of the first three is armed at a time. */
export type AttemptTimer = 'start-delay' | 'retry' | 'hopeless-retry' | 'relay-lost-give-up';

export type AttemptAction =
  /** Drop the current attempt (if any), open a fresh socket, learn its address, offer candidates for attempt `attempt`. */
  | { type: 'gather'; attempt: number }
  /** The locked path died: close it and put the session on the relay (if there is one). */
  | { type: 'fall-back'; reason: string }
  /** Keepalives on the next paths come this often (an idle path died). */
  | { type: 'keepalive'; fromMs: number; toMs: number; idleBeforeLossMs: number }
  | { type: 'arm'; timer: AttemptTimer; at: number; reason?: string }
  | { type: 'cancel'; timer: AttemptTimer }
  /** No path for too long after the relay was lost: end the session. */
  | { type: 'give-up'; reason: string };

export interface AttemptMachineOptions {
  /** The initiator (visitor) drives attempts and retries; the responder (provider) answers punch-requests. */
  role: Role;
  startDelayMs?: number;
  keepaliveMs?: number;
}

interface Armed {
  timer: AttemptTimer;
  at: number;
}

const PATH_DIED = 'no answer on the direct path (NAT mapping changed or the peer went away)';

/**
 * The attempt lifecycle of one session's direct path, sans-I/O: events and
 * the clock in, actions and the next deadline out. The I/O shell
 * (peer/direct-link.ts) owns the sockets, the punch and the locked path; it
 * tells this machine what happened and does what `drain()` returns, and wakes
 * it at `nextDeadline()` with `tick()`.
 *
 * Attempts are numbered; the rendezvous pairs the two peers' offers by
 * number. A failed attempt is retried after a growing back-off (initiator
 * only), a hopeless pair after a long wait; a lost path is re-punched at once.
 * Losing the relay without a direct path starts an attempt at once and a
 * deadline after which the session gives up.
 */
export class AttemptMachine {
  private readonly role: Role;
  private readonly startDelayMs: number;
  private closed = false;
  /** The attempt being gathered or punched (-1: none yet); later numbers supersede it. */
  private current = -1;
  private next = 0;
  /** The attempt whose sockets are open, until it locks or fails. */
  private live: number | null = null;
  private punching = false;
  private locked = false;
  private gaveUp = false;
  private failures = 0;
  /** Why the last attempt or path ended (null: none since the last lock). */
  lastFailure: string | null = null;
  /** The session's last path died (not superseded): the next lock resends what is in flight at once. */
  private pathWasLost = false;
  /** The interval for the next locked paths; shortened when idle paths die. */
  keepaliveMs: number;
  /** start-delay, retry or hopeless-retry: one slot, as one attempt at a time is wanted. */
  private wait: Armed | null = null;
  private giveUp: { at: number; reason: string } | null = null;
  /** The control connection changed while a path was locked: speak first when it dies. */
  private rejoinPending = false;
  /** Set once the relay is gone (it does not come back within a session): how long a session may go without any path. */
  private relayGoneGraceMs: number | null = null;
  private actions: AttemptAction[] = [];

  constructor(o: AttemptMachineOptions) {
    this.role = o.role;
    this.startDelayMs = o.startDelayMs ?? DIRECT_TIMERS.startDelayMs;
    this.keepaliveMs = o.keepaliveMs ?? DIRECT_TIMERS.keepaliveInitialMs;
  }

  get phase(): AttemptPhase {
    if (this.closed) return 'closed';
    if (this.locked) return 'locked';
    if (this.gaveUp) return 'gave-up';
    if (this.live !== null && this.punching) return 'punching';
    if (this.wait?.timer === 'retry') return 'waiting-retry';
    if (this.wait?.timer === 'hopeless-retry') return 'hopeless-wait';
    if (this.wait?.timer === 'start-delay') return 'waiting-start';
    if (this.live !== null) return 'gathering';
    return 'idle';
  }

  /** Failed attempts since the last lock. */
  get failedAttempts(): number {
    return this.failures;
  }

  /** Why the session is (or is not) on the direct path right now, in words for logs. */
  get status(): string {
    if (this.locked) return 'direct path up';
    if (this.live !== null && this.punching) return 'punching';
    if (this.live !== null || (this.current >= 0 && this.lastFailure === null)) return 'looking for a direct path';
    return this.lastFailure !== null ? `no direct path: ${this.lastFailure}` : 'direct path not tried yet';
  }

  /** True while attempt `n` is the one to pursue (an await in the shell may have been overtaken). */
  isCurrent(n: number): boolean {
    return !this.closed && this.current === n;
  }

  /** Start an attempt (after the configured delay, for the very first one). */
  start(now: number): void {
    if (this.closed) return;
    if (this.next === 0 && this.startDelayMs > 0 && this.wait === null) {
      this.arm('start-delay', now + this.startDelayMs);
      return;
    }
    this.gather(this.next++);
  }

  /** The peer started attempt `n` (responder side): join it unless we are already there. */
  punchRequest(n: number): void {
    if (this.closed || this.current >= n) return;
    this.next = Math.max(this.next, n + 1);
    this.gather(n);
  }

  /**
   * The control connection is a new one (the old one broke, e.g. a NAT
   * flush). The rendezvous cannot reach this side's session until it speaks
   * on the new connection with the session's ticket, and a responder only
   * ever answers: so it speaks first, with an attempt of its own. On a locked
   * path there is nothing to punch; it speaks when that path dies.
   */
  controlReconnected(): void {
    if (this.closed || this.role !== 'responder') return;
    if (this.locked) {
      this.rejoinPending = true;
      return;
    }
    this.gather(this.next++);
  }

  /** Attempt `n` could not open its socket: it offers nothing (the peer learns why), no retry. */
  socketFailed(n: number): void {
    if (this.live === n) this.live = null;
  }

  /** Attempt `n`'s offer went out (sent) or the control channel was down (retry later). */
  offered(n: number, sent: boolean, now: number): void {
    if (this.closed || this.live !== n || sent) return;
    this.scheduleRetry(now, 'the control channel is down', false);
  }

  /** The rendezvous answered attempt `n` and the punch runs. */
  punchStarted(n: number): void {
    if (this.live === n) this.punching = true;
  }

  /**
   * Attempt `n` ended without a path. `hopeless`: the NATs cannot be punched,
   * wait long before the next try. Returns false if `n` is no longer live
   * (superseded): the shell then ignores the result.
   */
  punchFailed(n: number, reason: string, hopeless: boolean, now: number): boolean {
    if (this.closed || this.live !== n) return false;
    this.live = null;
    this.punching = false;
    this.failures++;
    this.lastFailure = reason;
    this.scheduleRetry(now, reason, hopeless);
    return true;
  }

  /**
   * Attempt `n` locked a path. Returns null if `n` is no longer live, else
   * whether the session's previous path died (resend in-flight data at once).
   */
  punchLocked(n: number): { previousDied: boolean } | null {
    if (this.closed || this.live !== n) return null;
    this.live = null;
    this.punching = false;
    this.locked = true;
    this.gaveUp = false;
    this.failures = 0;
    this.lastFailure = null;
    this.cancelGiveUp();
    this.cancelWait();
    const previousDied = this.pathWasLost;
    this.pathWasLost = false;
    return { previousDied };
  }

  /** The locked path stopped answering; it had been quiet `idleBeforeLossMs` before (null: unknown). */
  pathDied(idleBeforeLossMs: number | null, now: number): void {
    if (this.closed || !this.locked) return;
    const shorter = shortenedKeepalive(this.keepaliveMs, idleBeforeLossMs);
    if (shorter !== null && idleBeforeLossMs !== null) {
      this.actions.push({ type: 'keepalive', fromMs: this.keepaliveMs, toMs: shorter, idleBeforeLossMs });
      this.keepaliveMs = shorter;
    }
    this.pathLost(PATH_DIED, now);
  }

  /** The locked path's socket failed for good: like a dead path, without learning about keepalives. */
  pathFailed(reason: string, now: number): void {
    if (this.closed || !this.locked) return;
    this.pathLost(reason, now);
  }

  /**
   * The relay link closed. On the direct path nothing changes (returns
   * 'direct'). Without one, punch now (initiator, no attempt running) and
   * give up after `graceMs` unless a path locks first (returns 'waiting').
   */
  relayLost(now: number, graceMs: number = DIRECT_TIMERS.relayLostGiveUpMs): 'direct' | 'waiting' | 'closed' {
    if (this.closed) return 'closed';
    this.relayGoneGraceMs = graceMs;
    if (this.locked) return 'direct';
    this.pathWasLost = true;
    if (this.role === 'initiator' && this.live === null) {
      // Losing the relay is reason enough to punch now rather than after the back-off.
      this.cancelWait();
      this.gather(this.next++);
    }
    this.armGiveUp(now, graceMs);
    return 'waiting';
  }

  close(): void {
    this.closed = true;
    this.live = null;
    this.punching = false;
    this.locked = false;
    this.wait = null;
    this.giveUp = null;
    this.actions = [];
  }

  /** Fires the timers due at `now`. */
  tick(now: number): void {
    if (this.closed) return;
    const w = this.wait;
    if (w !== null && now >= w.at) {
      this.wait = null;
      if (w.timer === 'start-delay') {
        if (this.next === 0) this.gather(this.next++);
      } else if (!this.locked) {
        this.start(now);
      }
    }
    const g = this.giveUp;
    if (g !== null && now >= g.at) {
      this.giveUp = null;
      if (!this.locked) {
        this.gaveUp = true;
        this.actions.push({ type: 'give-up', reason: g.reason });
      }
    }
  }

  nextDeadline(): number | null {
    const times: number[] = [];
    if (this.wait !== null) times.push(this.wait.at);
    if (this.giveUp !== null) times.push(this.giveUp.at);
    return times.length === 0 ? null : Math.min(...times);
  }

  /** The actions produced since the last call, in order. */
  drain(): AttemptAction[] {
    const out = this.actions;
    this.actions = [];
    return out;
  }

  private pathLost(reason: string, now: number): void {
    this.locked = false;
    this.lastFailure = `${reason}; punching again`;
    this.pathWasLost = true;
    this.actions.push({ type: 'fall-back', reason });
    // No relay to fall back to: the session now has no path at all, the same deadline applies.
    if (this.relayGoneGraceMs !== null) this.armGiveUp(now, this.relayGoneGraceMs);
    // Punch again at once with a fresh socket (a fresh NAT mapping); the
    // responder answers the punch-request that follows, or speaks first when
    // its control connection changed while the path held (controlReconnected).
    if (this.role === 'initiator') this.start(now);
    else if (this.rejoinPending) {
      this.rejoinPending = false;
      this.gather(this.next++);
    }
  }

  private gather(n: number): void {
    if (this.closed || n <= this.current) return;
    this.current = n;
    this.live = n;
    this.punching = false;
    this.actions.push({ type: 'gather', attempt: n });
  }

  private scheduleRetry(now: number, reason: string, hopeless: boolean): void {
    // The initiator drives attempts; the responder answers punch-requests.
    if (this.closed || this.wait !== null || this.locked || this.role !== 'initiator') return;
    this.arm(hopeless ? 'hopeless-retry' : 'retry', now + retryDelayMs(this.failures, hopeless), reason);
  }

  private arm(timer: 'start-delay' | 'retry' | 'hopeless-retry', at: number, reason?: string): void {
    this.wait = { timer, at };
    this.actions.push(reason === undefined ? { type: 'arm', timer, at } : { type: 'arm', timer, at, reason });
  }

  private cancelWait(): void {
    if (this.wait === null) return;
    this.actions.push({ type: 'cancel', timer: this.wait.timer });
    this.wait = null;
  }

  private armGiveUp(now: number, graceMs: number): void {
    this.cancelGiveUp();
    this.giveUp = { at: now + graceMs, reason: `no path to the peer for ${Math.round(graceMs / 1000)} s (relay closed, no direct path)` };
    this.actions.push({ type: 'arm', timer: 'relay-lost-give-up', at: this.giveUp.at });
  }

  private cancelGiveUp(): void {
    if (this.giveUp === null) return;
    this.actions.push({ type: 'cancel', timer: 'relay-lost-give-up' });
    this.giveUp = null;
  }
}
