import type { Scheduler, TimerHandle } from '../src/clock/scheduler.js';
import type { CandidateMessage, ClientMessage, NatInfoMessage, ServerMessage } from '../src/control/index.js';

/** What the broker needs of a logged-in peer. */
export interface BrokerPeer {
  readonly id: string;
  send(message: ServerMessage): void;
  /** Latest control-channel round trip, ms (null until measured). */
  readonly rttMs: number | null;
}

type Offer = Extract<ClientMessage, { type: 'offer' }>;

interface Attempt {
  visitor: Offer | null;
  provider: Offer | null;
  timer: TimerHandle;
}

interface PunchPair<P extends BrokerPeer> {
  visitor: P;
  provider: P;
  service: string;
  attempts: Map<number, Attempt>;
  lastAttempt: number;
}

export interface PunchBrokerOptions {
  scheduler: Scheduler;
  /** Sessions that may punch at once; the oldest is forgotten beyond it. */
  maxPairs?: number;
  /** How long one side's offer waits for the other's. */
  offerTimeoutMs?: number;
  /** Added to the computed start delay, for the peers' processing. */
  marginMs?: number;
  log?: (event: string, fields: Record<string, string | number | undefined>) => void;
}

const MAX_ATTEMPTS_KEPT = 4;

/**
 * Introduces the two peers of a session for hole punching: collects each
 * side's candidates for an attempt, then sends each the other's, with a
 * start delay chosen from the measured control round trips so both begin
 * at (nearly) the same instant — the message to the nearer peer waits
 * longer. The broker learns addresses only; probes are authenticated with a
 * key it never sees, so it cannot make a peer lock onto anything.
 */
export class PunchBroker<P extends BrokerPeer> {
  private readonly pairs = new Map<string, PunchPair<P>>();
  private readonly maxPairs: number;
  private readonly offerTimeoutMs: number;
  private readonly marginMs: number;
  brokered = 0;

  constructor(private readonly opts: PunchBrokerOptions) {
    this.maxPairs = opts.maxPairs ?? 4096;
    this.offerTimeoutMs = opts.offerTimeoutMs ?? 8000;
    this.marginMs = opts.marginMs ?? 20;
  }

  get size(): number {
    return this.pairs.size;
  }

  /** The session's handshake completed through us: these two may punch. */
  authorize(connId: string, visitor: P, provider: P, service: string): void {
    if (this.pairs.size >= this.maxPairs && !this.pairs.has(connId)) {
      const oldest = this.pairs.keys().next().value;
      if (oldest !== undefined) this.forget(oldest);
    }
    this.pairs.set(connId, { visitor, provider, service, attempts: new Map(), lastAttempt: -1 });
  }

  /** An offer from a peer; ignored unless the peer is a side of that session (by role). */
  offer(peer: P, role: 'visitor' | 'provider', m: Offer): void {
    const pair = this.pairs.get(m.connId);
    if (pair === undefined) {
      peer.send({ type: 'punch', connId: m.connId, attempt: m.attempt, candidates: [], startInMs: 0, reason: 'the rendezvous does not know this session (it may have restarted)' });
      return;
    }
    // A peer that reconnected has a new control connection: follow it.
    if (role === 'visitor') pair.visitor = peer;
    else pair.provider = peer;
    let a = pair.attempts.get(m.attempt);
    if (a === undefined) {
      if (m.attempt <= pair.lastAttempt - MAX_ATTEMPTS_KEPT) return;
      a = { visitor: null, provider: null, timer: this.opts.scheduler.at(this.opts.scheduler.now() + this.offerTimeoutMs, () => this.expire(m.connId, m.attempt)) };
      pair.attempts.set(m.attempt, a);
      pair.lastAttempt = Math.max(pair.lastAttempt, m.attempt);
      for (const [n, old] of pair.attempts) {
        if (n <= pair.lastAttempt - MAX_ATTEMPTS_KEPT) {
          old.timer.cancel();
          pair.attempts.delete(n);
        }
      }
      // Ask the other side to gather candidates for this attempt too.
      const other = role === 'visitor' ? pair.provider : pair.visitor;
      other.send({ type: 'punch-request', connId: m.connId, attempt: m.attempt });
    }
    if (role === 'visitor') a.visitor = m;
    else a.provider = m;
    if (a.visitor !== null && a.provider !== null) this.introduce(m.connId, pair, m.attempt, a.visitor, a.provider);
  }

  /** The session is over (both control connections gone, or told). */
  forget(connId: string): void {
    const pair = this.pairs.get(connId);
    if (pair === undefined) return;
    for (const a of pair.attempts.values()) a.timer.cancel();
    this.pairs.delete(connId);
  }

  close(): void {
    for (const id of [...this.pairs.keys()]) this.forget(id);
  }

  private introduce(connId: string, pair: PunchPair<P>, attempt: number, v: Offer, p: Offer): void {
    const a = pair.attempts.get(attempt);
    a?.timer.cancel();
    pair.attempts.delete(attempt);
    const rttV = pair.visitor.rttMs ?? 0;
    const rttP = pair.provider.rttMs ?? 0;
    // Each message takes about rtt/2 to arrive; start both at max(rtt)/2 + margin from now.
    const at = Math.max(rttV, rttP) / 2 + this.marginMs;
    const startV = Math.max(0, Math.min(5000, at - rttV / 2));
    const startP = Math.max(0, Math.min(5000, at - rttP / 2));
    const declined = (o: Offer) => (o.candidates.length === 0 ? (o.reason ?? 'no candidates') : undefined);
    // Each side gets the other's candidates, or why there will be no punch (whose side the reason is on).
    const msg = (other: Offer, otherRole: string, startInMs: number, mine: Offer): ServerMessage => {
      const theirs = declined(other);
      const own = declined(mine);
      const reason = theirs !== undefined ? `the ${otherRole} offers no direct path: ${theirs}` : own !== undefined ? `this side offered none: ${own}` : undefined;
      const m: ServerMessage = { type: 'punch', connId, attempt, candidates: reason ? [] : other.candidates, startInMs, ...(other.nat ? { nat: other.nat as NatInfoMessage } : {}) };
      if (reason !== undefined) m.reason = reason;
      return m;
    };
    pair.visitor.send(msg(p, 'provider', startV, v));
    pair.provider.send(msg(v, 'visitor', startP, p));
    this.brokered++;
    this.opts.log?.('punch-introduced', {
      conn: connId.slice(0, 8),
      attempt,
      visitorCandidates: v.candidates.length,
      providerCandidates: p.candidates.length,
      startVisitorMs: Math.round(startV),
      startProviderMs: Math.round(startP),
    });
  }

  private expire(connId: string, attempt: number): void {
    const pair = this.pairs.get(connId);
    const a = pair?.attempts.get(attempt);
    if (pair === undefined || a === undefined) return;
    pair.attempts.delete(attempt);
    const waiting = a.visitor !== null ? pair.visitor : pair.provider;
    const missing = a.visitor !== null ? 'provider' : 'visitor';
    waiting.send({
      type: 'punch',
      connId,
      attempt,
      candidates: [],
      startInMs: 0,
      reason: `the ${missing} sent no candidates within ${this.offerTimeoutMs} ms`,
    });
  }
}

export type { CandidateMessage };
