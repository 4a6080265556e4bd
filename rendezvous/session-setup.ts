import type { RandomSource } from '../src/clock/random.js';
import { ControlErrorCode, proofsEqual, type ClientMessage, type PeerRole, type ServerMessage } from '../src/control/index.js';
import type { LogFields } from '../src/log/logger.js';
import type { RendezvousLimits } from './limits.js';
import { PUNCH_REJOIN_GRACE_MS, PunchBroker, type PeerId, type PunchBrokerStats, type PunchOutcomeCount } from './punch-broker.js';
import { ServiceRegistry } from './registry.js';

export type { PeerId };

/** The messages of session setup, from a logged-in peer. */
export type SetupMessage = Extract<ClientMessage, { type: 'register' | 'connect' | 'accept' | 'refuse' | 'confirm' | 'offer' }>;

/** What the shell must do, in order. */
export type SetupOutput =
  /** `fromProvider`: a provider's refusal passed on to its visitor (the shell counted it when it came in). */
  | { readonly kind: 'send'; readonly to: PeerId; readonly message: ServerMessage; readonly fromProvider?: true }
  /** Refuse and end the connection once the message is written. */
  | { readonly kind: 'refuse'; readonly to: PeerId; readonly code: ControlErrorCode; readonly message: string }
  /** Close a connection now (a relay join of a setup that failed). */
  | { readonly kind: 'close'; readonly to: PeerId }
  /** Both relay connections of a session are here: tell them, then splice them; report relayEnded(link) when done. */
  | { readonly kind: 'splice'; readonly link: number; readonly connId: string; readonly service: string; readonly visitor: PeerId; readonly provider: PeerId }
  | { readonly kind: 'log'; readonly level: 'info' | 'warn'; readonly event: string; readonly fields: LogFields };

interface Peer {
  readonly role: PeerRole;
  /** Setups in progress that this visitor started. */
  pending: number;
  rttMs: number | null;
}

interface Pending {
  readonly connId: string;
  readonly service: string;
  readonly visitor: PeerId;
  readonly provider: PeerId;
  readonly visitorTicket: Buffer;
  readonly providerTicket: Buffer;
  readonly deadline: number;
  stage: 'hello' | 'reply' | 'confirm';
  visitorJoin: PeerId | null;
  providerJoin: PeerId | null;
}

/** A spliced relay link's session: its id, service, and the control peers of its two sides when it was set up. */
export interface RelaySession {
  readonly connId: string;
  readonly service: string;
  readonly visitor: PeerId;
  readonly provider: PeerId;
}

export type SetupLimits = Pick<
  RendezvousLimits,
  'maxPendingPerVisitor' | 'maxPending' | 'pendingTimeoutMs' | 'maxRelayLinks' | 'maxServices' | 'maxServicesPerProvider' | 'maxPunchPairs' | 'punchOfferTimeoutMs'
>;

export interface SessionSetupStats {
  peers: number;
  services: number;
  pending: number;
  relayLinks: number;
  relayJoinsRefused: number;
  punch: PunchBrokerStats;
}

const TICKET_LENGTH = 32;
/** Added to the punch start delays, for the peers' processing. */
const PUNCH_MARGIN_MS = 20;

/**
 * Session setup at the rendezvous, sans-I/O: pairs a visitor with the
 * provider of a service, passes their end-to-end handshake along (opaque
 * here), hands out relay tickets and pairs the relay joins, brokers their
 * punch offers, and expires setups that stall.
 *
 * Inputs: messages from identified connections (logged-in peers, or a relay
 * join presenting a ticket), connections going away, and the clock. Outputs
 * (takeOutputs): messages to connection ids, refusals, closes, splices and log
 * lines; nextDeadline() says when to call handleTimeout().
 */
export class SessionSetup {
  private readonly peers = new Map<PeerId, Peer>();
  private readonly registry: ServiceRegistry<PeerId>;
  /** In deadline order: every setup waits the same pendingTimeoutMs on a monotonic clock. */
  private readonly pending = new Map<string, Pending>();
  /** Which pending setup a relay connection joined, so its going can be noticed. */
  private readonly joins = new Map<PeerId, string>();
  /** Spliced relay links, by link number: the session each carries. */
  private readonly relays = new Map<number, RelaySession>();
  private readonly broker: PunchBroker;
  private outputs: SetupOutput[] = [];
  private nextLink = 1;
  private relayJoinsRefused = 0;

  constructor(
    private readonly limits: SetupLimits,
    private readonly random: RandomSource,
  ) {
    this.registry = new ServiceRegistry<PeerId>(limits.maxServices);
    this.broker = new PunchBroker(
      { maxPairs: limits.maxPunchPairs, offerTimeoutMs: limits.punchOfferTimeoutMs, marginMs: PUNCH_MARGIN_MS, rejoinGraceMs: PUNCH_REJOIN_GRACE_MS },
      {
        send: (to, message) => this.send(to, message),
        rttMs: (peer) => this.peers.get(peer)?.rttMs ?? null,
        log: (level, event, fields) => this.log(level, event, fields),
      },
    );
  }

  get stats(): SessionSetupStats {
    return {
      peers: this.peers.size,
      services: this.registry.size,
      pending: this.pending.size,
      relayLinks: this.relays.size,
      relayJoinsRefused: this.relayJoinsRefused,
      punch: this.broker.stats,
    };
  }

  /** Each registered service name and the peer that provides it. */
  get services(): [string, PeerId][] {
    return this.registry.entries();
  }

  /** The sessions with a relay link spliced now, with the control peers that set them up (for the dashboard). */
  get relaySessions(): readonly RelaySession[] {
    return [...this.relays.values()];
  }

  /** The provider that serves `name` here, if any. */
  providerOf(name: string): PeerId | undefined {
    return this.registry.lookup(name);
  }

  /** The peer's last control round trip, or null. */
  rttOf(peer: PeerId): number | null {
    return this.peers.get(peer)?.rttMs ?? null;
  }

  /**
   * Forgets one service name (another rendezvous node took it over): later
   * connects for it are not answered here. Setups already under way go on.
   */
  dropService(name: string): PeerId | undefined {
    return this.registry.remove(name);
  }

  /** The side `peer` is of session `connId` as far as this rendezvous knows (its relay link or its punch pair), or null. */
  sideOf(peer: PeerId, connId: string): PeerRole | null {
    for (const r of this.relays.values()) {
      if (r.connId !== connId) continue;
      if (r.visitor === peer) return 'visitor';
      if (r.provider === peer) return 'provider';
    }
    return this.broker.sideOf(peer, connId);
  }

  /** The broker's punch attempts by outcome and NAT classes. */
  get punchOutcomes(): readonly PunchOutcomeCount[] {
    return this.broker.outcomeCounts;
  }

  /** Everything to do since the last call, in order. */
  takeOutputs(): SetupOutput[] {
    const out = this.outputs;
    this.outputs = [];
    return out;
  }

  /** The earliest time handleTimeout() has work, or null. */
  nextDeadline(): number | null {
    const first = this.pending.values().next();
    const setup = first.done === true ? null : first.value.deadline;
    const punch = this.broker.nextDeadline();
    if (setup === null) return punch;
    return punch === null ? setup : Math.min(setup, punch);
  }

  /** A connection logged in as `role`. */
  peerJoined(peer: PeerId, role: PeerRole): void {
    this.peers.set(peer, { role, pending: 0, rttMs: null });
  }

  /** The peer's control round trip, for synchronising punch starts. */
  peerRtt(peer: PeerId, rttMs: number): void {
    const p = this.peers.get(peer);
    if (p !== undefined) p.rttMs = rttMs;
  }

  handle(from: PeerId, m: SetupMessage, now: number): void {
    const peer = this.peers.get(from);
    if (peer === undefined) return;
    switch (m.type) {
      case 'register':
        return this.onRegister(from, peer, m.services);
      case 'connect':
        return this.onConnect(from, peer, m, now);
      case 'accept':
        return this.onAccept(from, m.connId, m.reply);
      case 'refuse':
        return this.onProviderRefuse(from, m.connId, m.code, m.message);
      case 'confirm':
        return this.onConfirm(from, m.connId, m.confirm, m.direct === true);
      case 'offer':
        return this.broker.offer(from, m, now);
    }
  }

  /**
   * A connection that has not logged in presents a relay ticket. True if it
   * joined (the connection is now a relay link, waiting or spliced); false if
   * refused (a refuse output says so).
   */
  relayJoin(conn: PeerId, connId: string, ticket: Buffer): boolean {
    const s = this.pending.get(connId);
    const side =
      s === undefined ? null
      : proofsEqual(ticket, s.visitorTicket) && s.stage !== 'hello' ? 'visitor'
      : proofsEqual(ticket, s.providerTicket) && s.stage === 'confirm' ? 'provider'
      : null;
    if (s === undefined || side === null || (side === 'visitor' ? s.visitorJoin : s.providerJoin) !== null) {
      this.relayJoinsRefused++;
      this.refuse(conn, ControlErrorCode.BAD_TICKET, 'unknown or expired relay ticket');
      return false;
    }
    if (side === 'visitor') s.visitorJoin = conn;
    else s.providerJoin = conn;
    this.joins.set(conn, s.connId);
    if (s.visitorJoin === null || s.providerJoin === null) return true;
    // Both ends are here: the shell hands the two connections over to the splice.
    this.drop(s, false);
    const link = this.nextLink++;
    this.relays.set(link, { connId: s.connId, service: s.service, visitor: s.visitor, provider: s.provider });
    this.outputs.push({ kind: 'splice', link, connId: s.connId, service: s.service, visitor: s.visitorJoin, provider: s.providerJoin });
    this.log('info', 'relay-start', { conn: s.connId.slice(0, 8), service: s.service });
    return true;
  }

  /**
   * A spliced relay link ended. The session may live on over its direct
   * path (and punch again if that dies), so its punch pair stays, first in
   * line for eviction.
   */
  relayEnded(link: number): void {
    const relay = this.relays.get(link);
    if (relay === undefined) return;
    this.relays.delete(link);
    this.broker.relayEnded(relay.connId);
  }

  /**
   * A connection closed: a logged-in peer's services and setups go with it;
   * its punch pairs wait a while for it to come back (PUNCH_REJOIN_GRACE_MS).
   * Returns the service names it held.
   */
  peerGone(id: PeerId, now: number): string[] {
    if (this.joins.delete(id)) {
      // A relay join that left before its partner came: the splice, if the
      // partner comes, ends at once (as a relay link whose side closed).
      return [];
    }
    const peer = this.peers.get(id);
    if (peer === undefined) return [];
    this.peers.delete(id);
    const removed = this.registry.removeProvider(id);
    for (const s of [...this.pending.values()]) {
      if (s.provider === id) {
        this.send(s.visitor, { type: 'connect-failed', connId: s.connId, code: ControlErrorCode.PROVIDER_GONE, message: `the provider of "${s.service}" disconnected` });
        this.drop(s);
      } else if (s.visitor === id) {
        this.drop(s);
      }
    }
    // Its sessions may outlive the connection (a NAT flush): the broker keeps them for a rejoin, for a while.
    const pairs = this.broker.peerGone(id, now);
    this.log('info', 'peer-gone', { peer: id, role: peer.role, services: removed.join(',') || undefined, punchPairs: pairs || undefined });
    return removed;
  }

  handleTimeout(now: number): void {
    for (const s of this.pending.values()) {
      if (s.deadline > now) break;
      this.send(s.visitor, {
        type: 'connect-failed',
        connId: s.connId,
        code: ControlErrorCode.TIMEOUT,
        message: `session setup with the provider of "${s.service}" did not complete in ${this.limits.pendingTimeoutMs} ms`,
      });
      this.drop(s);
    }
    this.broker.handleTimeout(now);
  }

  close(): void {
    this.broker.close();
    this.pending.clear();
    this.joins.clear();
  }

  private onRegister(from: PeerId, peer: Peer, services: string[]): void {
    if (peer.role !== 'provider') return this.error(from, ControlErrorCode.PROTOCOL, 'only providers register services');
    if (services.length > this.limits.maxServicesPerProvider) {
      return this.error(from, ControlErrorCode.TOO_MANY_SERVICES, `at most ${this.limits.maxServicesPerProvider} services per provider`);
    }
    const r = this.registry.register(from, services);
    if (!r.ok) {
      const message = r.full
        ? 'the rendezvous has no room for more services'
        : `service name ${r.taken.map((n) => `"${n}"`).join(', ')} is already registered by another provider`;
      this.log('warn', 'register-refused', { peer: from, services: services.join(','), reason: message });
      return this.error(from, r.full ? ControlErrorCode.FULL : ControlErrorCode.NAME_TAKEN, message);
    }
    this.send(from, { type: 'registered', services });
    this.log('info', 'registered', { peer: from, services: services.join(',') });
  }

  private onConnect(from: PeerId, visitor: Peer, m: Extract<SetupMessage, { type: 'connect' }>, now: number): void {
    const { connId, service } = m;
    const fail = (code: ControlErrorCode, message: string) => this.send(from, { type: 'connect-failed', connId, code, message });
    if (visitor.role !== 'visitor') return this.error(from, ControlErrorCode.PROTOCOL, 'only visitors connect');
    const provider = this.registry.lookup(service);
    if (provider === undefined) return fail(ControlErrorCode.NO_SUCH_SERVICE, `no provider is serving "${service}" right now`);
    // A live session's id too: a stranger must not take over its punch pair.
    if (this.pending.has(connId) || this.broker.has(connId)) return fail(ControlErrorCode.BUSY, 'connection id already in use');
    if (visitor.pending >= this.limits.maxPendingPerVisitor || this.pending.size >= this.limits.maxPending) {
      return fail(ControlErrorCode.BUSY, 'too many session setups in progress; try again');
    }
    if (this.relays.size >= this.limits.maxRelayLinks) return fail(ControlErrorCode.BUSY, 'the rendezvous has no free relay links');
    visitor.pending++;
    this.pending.set(connId, {
      connId,
      service,
      visitor: from,
      provider,
      visitorTicket: this.random.bytes(TICKET_LENGTH),
      providerTicket: this.random.bytes(TICKET_LENGTH),
      deadline: now + this.limits.pendingTimeoutMs,
      stage: 'hello',
      visitorJoin: null,
      providerJoin: null,
    });
    this.send(provider, { type: 'incoming', connId, service, hello: m.hello, ...(m.proto !== undefined ? { proto: m.proto } : {}) });
    this.log('info', 'connect', { conn: connId.slice(0, 8), service, visitor: from, provider });
  }

  private onAccept(from: PeerId, connId: string, reply: string): void {
    const s = this.pending.get(connId);
    if (s === undefined || s.provider !== from || s.stage !== 'hello') return;
    s.stage = 'reply';
    this.send(s.visitor, { type: 'reply', connId, reply, ticket: s.visitorTicket.toString('base64') });
  }

  private onProviderRefuse(from: PeerId, connId: string, code: ControlErrorCode, message: string): void {
    const s = this.pending.get(connId);
    if (s === undefined || s.provider !== from) return;
    this.outputs.push({ kind: 'send', to: s.visitor, message: { type: 'connect-failed', connId, code, message }, fromProvider: true });
    this.log('info', 'connect-refused', { conn: connId.slice(0, 8), service: s.service, code });
    this.drop(s);
  }

  private onConfirm(from: PeerId, connId: string, confirm: string, direct: boolean): void {
    const s = this.pending.get(connId);
    if (s === undefined || s.visitor !== from || s.stage !== 'reply') return;
    s.stage = 'confirm';
    // The two may now punch: only they know the session key the probes need.
    if (direct) this.broker.authorize(connId, s.visitor, s.provider, { visitor: s.visitorTicket, provider: s.providerTicket });
    this.send(s.provider, { type: 'confirm', connId, confirm, ticket: s.providerTicket.toString('base64'), ...(direct ? { direct } : {}) });
  }

  /** Forgets a pending setup; closes relay connections that joined it unless they were handed over. */
  private drop(s: Pending, closeJoined = true): void {
    this.pending.delete(s.connId);
    const v = this.peers.get(s.visitor);
    if (v !== undefined) v.pending--;
    for (const j of [s.visitorJoin, s.providerJoin]) {
      if (j === null) continue;
      this.joins.delete(j);
      if (closeJoined) this.outputs.push({ kind: 'close', to: j });
    }
  }

  private send(to: PeerId, message: ServerMessage): void {
    this.outputs.push({ kind: 'send', to, message });
  }

  /** A non-fatal error on the control connection. */
  private error(to: PeerId, code: ControlErrorCode, message: string): void {
    this.send(to, { type: 'error', code, message, fatal: false });
  }

  private refuse(to: PeerId, code: ControlErrorCode, message: string): void {
    this.outputs.push({ kind: 'refuse', to, code, message });
  }

  private log(level: 'info' | 'warn', event: string, fields: LogFields): void {
    this.outputs.push({ kind: 'log', level, event, fields });
  }
}
