import { proofsEqual, type ClientMessage, type NatInfoMessage, type ServerMessage } from '../src/control/index.js';
import { natClass, type NatClass } from '../src/metrics/nat-class.js';

/** A peer, by its control connection's id. */
export type PeerId = string;

type Offer = Extract<ClientMessage, { type: 'offer' }>;

/** What the broker does to the outside world: it only sends, and asks for round trips. */
export interface BrokerIo {
  send(to: PeerId, message: ServerMessage): void;
  /** Latest control round trip of this peer, ms (null until measured). */
  rttMs(peer: PeerId): number | null;
  log(level: 'info' | 'warn', event: string, fields: Record<string, string | number | undefined>): void;
}

export interface PunchBrokerOptions {
  /** Sessions that may punch at once; beyond it one whose relay closed goes first, else the least recently active. */
  maxPairs: number;
  /** How long one side's offer waits for the other's. */
  offerTimeoutMs: number;
  /** Added to the computed start delay, for the peers' processing. */
  marginMs: number;
  /**
   * How long a session whose peer lost its control connection waits for that
   * peer to come back on a new one (proving it with the session's ticket).
   */
  rejoinGraceMs: number;
}

/**
 * How long a session's punch pair outlives one peer's control connection,
 * waiting for it to come back on a new one (a NAT flush resets the control
 * connection, not the session). Longer than the peers' own give-up after
 * losing every path (DIRECT_TIMERS.relayLostGiveUpMs, 20 s).
 */
export const PUNCH_REJOIN_GRACE_MS = 30_000;

export const DEFAULT_PUNCH_BROKER_OPTIONS: PunchBrokerOptions = { maxPairs: 4096, offerTimeoutMs: 8000, marginMs: 20, rejoinGraceMs: PUNCH_REJOIN_GRACE_MS };

type Role = 'visitor' | 'provider';

/** Attempts of one session kept at once (a late offer for an older one is dropped). */
const MAX_ATTEMPTS_KEPT = 4;
/** The latest start the broker asks for: the schema's bound. */
const MAX_START_MS = 5000;

interface Attempt {
  readonly connId: string;
  readonly n: number;
  readonly deadline: number;
  visitor: Offer | null;
  provider: Offer | null;
}

interface PunchPair {
  visitor: PeerId;
  provider: PeerId;
  /** Each side's session ticket: a side on a new control connection proves itself with it. */
  readonly tickets: Readonly<Record<Role, Buffer>>;
  /** Sides whose control connection closed and that have not come back yet. */
  readonly gone: Set<Role>;
  readonly attempts: Map<number, Attempt>;
  lastAttempt: number;
}

export interface PunchBrokerStats {
  pairs: number;
  brokered: number;
  /** Offers from a peer that is not a side of the session named. */
  offersIgnored: number;
  /** Pairs forgotten to make room (still live as far as the broker knew). */
  evicted: number;
  /** Sides that came back on a new control connection with their session's ticket. */
  rejoined: number;
  /** Pairs waiting for a side to come back. */
  orphaned: number;
}

/**
 * What the broker saw of an attempt: both sides offered candidates and were
 * introduced (whether the punch then worked only the peers know), one side
 * offered none (declined: the pair relays), or one side sent nothing in time.
 */
export type PunchOutcome = 'introduced' | 'declined' | 'timeout';

export interface PunchOutcomeCount {
  readonly outcome: PunchOutcome;
  readonly visitorNat: NatClass;
  readonly providerNat: NatClass;
  readonly count: number;
}

/**
 * Introduces the two peers of a session for hole punching: collects each
 * side's candidates for an attempt, then sends each the other's, with a
 * start delay chosen from the measured control round trips so both begin
 * at (nearly) the same instant — the message to the nearer peer waits
 * longer. The broker learns addresses only; probes are authenticated with a
 * key it never sees, so it cannot make a peer lock onto anything.
 *
 * Sans-I/O: time comes in as `now`, offers time out in handleTimeout(),
 * nextDeadline() says when to call it.
 */
export class PunchBroker {
  private readonly pairs = new Map<string, PunchPair>();
  /** Sessions of each peer, so a peer that goes takes its pairs along. */
  private readonly byPeer = new Map<PeerId, Set<string>>();
  /**
   * Every waiting attempt in deadline order: all wait the same offerTimeoutMs
   * on a monotonic clock, so insertion order is deadline order.
   */
  private readonly waiting = new Map<string, Attempt>();
  /**
   * Pairs whose relay link closed: most such sessions are over, but one that
   * is on its direct path carries on (and punches again if that dies), so
   * they are only the first to be evicted, not forgotten.
   */
  private readonly relayClosed = new Set<string>();
  /**
   * Pairs one of whose peers lost its control connection, with the time they
   * are forgotten unless it comes back. A peer whose NAT flushed its state
   * reconnects at once and punches again; until then these go first when
   * room is needed. All wait the same grace: insertion order is deadline order.
   */
  private readonly orphaned = new Map<string, number>();
  private readonly counts = { brokered: 0, offersIgnored: 0, evicted: 0, rejoined: 0 };
  /** Keyed by outcome and NAT classes: at most 3 x 6 x 6 entries. */
  private readonly outcomes = new Map<string, PunchOutcomeCount>();

  constructor(
    private readonly opts: PunchBrokerOptions,
    private readonly io: BrokerIo,
  ) {}

  get stats(): PunchBrokerStats {
    return { pairs: this.pairs.size, ...this.counts, orphaned: this.orphaned.size };
  }

  /** How each attempt ended here, by the two sides' NAT classes (see PunchOutcome). */
  get outcomeCounts(): readonly PunchOutcomeCount[] {
    return [...this.outcomes.values()];
  }

  has(connId: string): boolean {
    return this.pairs.has(connId);
  }

  /** Which side of session `connId` the peer is now (null: neither, or no such pair). */
  sideOf(peer: PeerId, connId: string): Role | null {
    const pair = this.pairs.get(connId);
    if (pair === undefined) return null;
    if (pair.visitor === peer && !pair.gone.has('visitor')) return 'visitor';
    if (pair.provider === peer && !pair.gone.has('provider')) return 'provider';
    return null;
  }

  /**
   * The session's handshake completed through us: these two (and only these
   * two, or whoever later presents one of their tickets) may punch.
   */
  authorize(connId: string, visitor: PeerId, provider: PeerId, tickets: Readonly<Record<Role, Buffer>>): void {
    this.forget(connId);
    if (this.pairs.size >= this.opts.maxPairs) {
      const oldest = this.orphaned.keys().next().value ?? this.relayClosed.values().next().value ?? this.pairs.keys().next().value;
      if (oldest !== undefined) {
        this.counts.evicted++;
        this.io.log('warn', 'punch-pair-evicted', { conn: oldest.slice(0, 8), pairs: this.pairs.size });
        this.forget(oldest);
      }
    }
    this.pairs.set(connId, { visitor, provider, tickets, gone: new Set(), attempts: new Map(), lastAttempt: -1 });
    this.bind(visitor, connId);
    this.bind(provider, connId);
  }

  /** An offer; taken only from one of the session's two peers. */
  offer(from: PeerId, m: Offer, now: number): void {
    const pair = this.pairs.get(m.connId);
    if (pair === undefined) {
      this.io.send(from, { type: 'punch', connId: m.connId, attempt: m.attempt, candidates: [], startInMs: 0, reason: 'the rendezvous does not know this session (it may have restarted)' });
      return;
    }
    const known = from === pair.visitor ? 'visitor' : from === pair.provider ? 'provider' : null;
    const role = known ?? this.rejoin(from, m, pair);
    if (role === null) return;
    if (known === null) {
      // Back on a new connection: what we asked while it was away never reached it.
      for (const [n, waiting] of pair.attempts) {
        if (n !== m.attempt && waiting[role] === null) this.sendTo(pair, role, { type: 'punch-request', connId: m.connId, attempt: n });
      }
    }
    // Recently used pairs are the last to be evicted; one that punches is alive, whatever its relay did.
    this.pairs.delete(m.connId);
    this.pairs.set(m.connId, pair);
    this.relayClosed.delete(m.connId);
    let a = pair.attempts.get(m.attempt);
    if (a === undefined) {
      if (m.attempt <= pair.lastAttempt - MAX_ATTEMPTS_KEPT) return;
      a = { connId: m.connId, n: m.attempt, deadline: now + this.opts.offerTimeoutMs, visitor: null, provider: null };
      pair.attempts.set(m.attempt, a);
      this.waiting.set(attemptKey(m.connId, m.attempt), a);
      pair.lastAttempt = Math.max(pair.lastAttempt, m.attempt);
      for (const n of [...pair.attempts.keys()]) if (n <= pair.lastAttempt - MAX_ATTEMPTS_KEPT) this.dropAttempt(pair, m.connId, n);
      // Ask the other side to gather candidates for this attempt too.
      this.sendTo(pair, role === 'visitor' ? 'provider' : 'visitor', { type: 'punch-request', connId: m.connId, attempt: m.attempt });
    }
    if (role === 'visitor') a.visitor = m;
    else a.provider = m;
    if (a.visitor !== null && a.provider !== null) {
      this.dropAttempt(pair, m.connId, m.attempt);
      this.introduce(m.connId, pair, m.attempt, a.visitor, a.provider);
    }
  }

  /** The session's relay link closed: it may be over (see relayClosed). */
  relayEnded(connId: string): void {
    if (this.pairs.has(connId)) this.relayClosed.add(connId);
  }

  /** The session is over (or its setup failed): its peers may not punch for it any more. */
  forget(connId: string): void {
    const pair = this.pairs.get(connId);
    if (pair === undefined) return;
    for (const n of [...pair.attempts.keys()]) this.dropAttempt(pair, connId, n);
    this.pairs.delete(connId);
    this.relayClosed.delete(connId);
    this.orphaned.delete(connId);
    this.unbind(pair.visitor, connId);
    this.unbind(pair.provider, connId);
  }

  /**
   * A peer's control connection is gone. Its sessions may live on (a NAT
   * flush kills the control connection, not the session), so each waits
   * rejoinGraceMs for the peer to come back; one whose other peer is gone
   * too is over. Returns how many sessions it was a side of.
   */
  peerGone(peer: PeerId, now: number): number {
    const sessions = [...(this.byPeer.get(peer) ?? [])];
    this.byPeer.delete(peer);
    for (const id of sessions) {
      const pair = this.pairs.get(id);
      if (pair === undefined) continue;
      if (pair.visitor === peer) pair.gone.add('visitor');
      if (pair.provider === peer) pair.gone.add('provider');
      if (pair.gone.size === 2) {
        this.forget(id);
        continue;
      }
      this.orphaned.delete(id);
      this.orphaned.set(id, now + this.opts.rejoinGraceMs);
    }
    return sessions.length;
  }

  nextDeadline(): number | null {
    const first = this.waiting.values().next();
    const offer = first.done === true ? null : first.value.deadline;
    const orphan = this.orphaned.values().next();
    if (orphan.done === true) return offer;
    return offer === null ? orphan.value : Math.min(offer, orphan.value);
  }

  /** Tells the waiting side of every attempt past its deadline that the other sent nothing. */
  handleTimeout(now: number): void {
    for (const [id, deadline] of this.orphaned) {
      if (deadline > now) break;
      this.io.log('info', 'punch-pair-orphan-expired', { conn: id.slice(0, 8), graceMs: this.opts.rejoinGraceMs });
      this.forget(id);
    }
    for (const a of this.waiting.values()) {
      if (a.deadline > now) return;
      const pair = this.pairs.get(a.connId);
      if (pair !== undefined) this.dropAttempt(pair, a.connId, a.n);
      else this.waiting.delete(attemptKey(a.connId, a.n));
      if (pair === undefined) continue;
      const missing = a.visitor !== null ? 'provider' : 'visitor';
      this.countOutcome('timeout', a.visitor, a.provider);
      this.sendTo(pair, a.visitor !== null ? 'visitor' : 'provider', {
        type: 'punch',
        connId: a.connId,
        attempt: a.n,
        candidates: [],
        startInMs: 0,
        reason: `the ${missing} sent no candidates within ${this.opts.offerTimeoutMs} ms`,
      });
    }
  }

  close(): void {
    for (const id of [...this.pairs.keys()]) this.forget(id);
  }

  /**
   * An offer from a peer that is not one of the pair's: a side back on a new
   * control connection if it carries that side's ticket (it then takes the
   * side over), else a stranger, ignored without an answer (answering would
   * tell it the session exists).
   */
  private rejoin(from: PeerId, m: Offer, pair: PunchPair): Role | null {
    const ticket = m.ticket === undefined ? null : Buffer.from(m.ticket, 'base64');
    const role: Role | null =
      ticket === null ? null
      : proofsEqual(ticket, pair.tickets.visitor) ? 'visitor'
      : proofsEqual(ticket, pair.tickets.provider) ? 'provider'
      : null;
    if (role === null) {
      this.counts.offersIgnored++;
      this.io.log('warn', 'punch-offer-ignored', {
        conn: m.connId.slice(0, 8),
        peer: from,
        reason: ticket === null ? 'not a peer of this session' : 'wrong session ticket',
      });
      return null;
    }
    const old = pair[role];
    // The old connection may not have closed yet (its reset is still on the way): it is no longer this side.
    this.unbind(old, m.connId);
    pair[role] = from;
    pair.gone.delete(role);
    if (pair.gone.size === 0) this.orphaned.delete(m.connId);
    this.bind(from, m.connId);
    this.counts.rejoined++;
    this.io.log('info', 'punch-peer-rejoined', { conn: m.connId.slice(0, 8), role, peer: from, was: old });
    return role;
  }

  /** Sends to a side of the pair unless its control connection is gone (it re-offers when back). */
  private sendTo(pair: PunchPair, role: Role, message: ServerMessage): void {
    if (!pair.gone.has(role)) this.io.send(pair[role], message);
  }

  private bind(peer: PeerId, connId: string): void {
    let set = this.byPeer.get(peer);
    if (set === undefined) this.byPeer.set(peer, (set = new Set()));
    set.add(connId);
  }

  private unbind(peer: PeerId, connId: string): void {
    const set = this.byPeer.get(peer);
    set?.delete(connId);
    if (set?.size === 0) this.byPeer.delete(peer);
  }

  private dropAttempt(pair: PunchPair, connId: string, n: number): void {
    pair.attempts.delete(n);
    this.waiting.delete(attemptKey(connId, n));
  }

  private introduce(connId: string, pair: PunchPair, attempt: number, v: Offer, p: Offer): void {
    const rttV = this.io.rttMs(pair.visitor) ?? 0;
    const rttP = this.io.rttMs(pair.provider) ?? 0;
    // Each message takes about rtt/2 to arrive; start both at max(rtt)/2 + margin from now.
    const at = Math.max(rttV, rttP) / 2 + this.opts.marginMs;
    const startV = Math.max(0, Math.min(MAX_START_MS, at - rttV / 2));
    const startP = Math.max(0, Math.min(MAX_START_MS, at - rttP / 2));
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
    this.sendTo(pair, 'visitor', msg(p, 'provider', startV, v));
    this.sendTo(pair, 'provider', msg(v, 'visitor', startP, p));
    this.counts.brokered++;
    this.countOutcome(declined(v) !== undefined || declined(p) !== undefined ? 'declined' : 'introduced', v, p);
    this.io.log('info', 'punch-introduced', {
      conn: connId.slice(0, 8),
      attempt,
      visitorCandidates: v.candidates.length,
      providerCandidates: p.candidates.length,
      startVisitorMs: Math.round(startV),
      startProviderMs: Math.round(startP),
    });
  }

  private countOutcome(outcome: PunchOutcome, v: Offer | null, p: Offer | null): void {
    const visitorNat = natClass(v?.nat);
    const providerNat = natClass(p?.nat);
    const key = `${outcome}/${visitorNat}/${providerNat}`;
    this.outcomes.set(key, { outcome, visitorNat, providerNat, count: (this.outcomes.get(key)?.count ?? 0) + 1 });
  }
}

function attemptKey(connId: string, attempt: number): string {
  return `${connId}/${attempt}`;
}
