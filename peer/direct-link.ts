import { EventEmitter } from 'node:events';
import { networkInterfaces } from 'node:os';
import type { Scheduler, TimerHandle } from '../src/clock/scheduler.js';
import type { RandomSource } from '../src/clock/random.js';
import type { ClientMessage, ServerMessage } from '../src/control/index.js';
import type { Logger } from '../src/log/logger.js';
import type { UdpSocketFactory } from '../src/net/udp-factory.js';
import type { UdpEndpoint, UdpSocket } from '../src/net/udp-socket.js';
import type { DatagramPath } from '../src/path/datagram-path.js';
import type { UdpPath } from '../src/path/udp-path.js';
import type { Role } from '../src/role.js';
import { LockedPath } from './locked-path.js';
import {
  ProbeCodec,
  ProbeType,
  PunchRunner,
  PunchSession,
  derivePunchKeys,
  describeCandidate,
  planPunch,
  type BirthdayRole,
  type Candidate,
  type LockedEndpoint,
  type SessionNatInfo,
} from '../src/punch/index.js';
import type { TunnelSession } from '../src/session/index.js';
import { PacketKind, looksLikeStun } from '../src/wire/packet-kind.js';

/** Learns a socket's server-reflexive address and mapping behaviour (STUN on the rendezvous's UDP ports). */
export interface ReflexiveDiscovery {
  discover(socket: UdpSocket, route: (handler: (data: Buffer, from: UdpEndpoint) => boolean) => void): Promise<{
    srflx: UdpEndpoint | null;
    nat: SessionNatInfo;
    detail: string;
    /** Smallest TTL that reached the rendezvous (null: unknown). */
    hops: number | null;
  }>;
}

export interface DirectOptions {
  /** Probe random ports / open many sockets against one symmetric NAT. Default true. */
  birthday: boolean;
  /** Offer this machine's own interface addresses (LAN paths). Default true. */
  hostCandidates: boolean;
  /** Keepalive on an idle direct path. Default 15 s. */
  keepaliveMs: number;
  /** Give one punch attempt this long (birthday probing gets 3 s more). Default 3 s; a failed attempt is retried with fresh sockets. */
  punchTimeoutMs: number;
  /**
   * TTL of priming packets; 0 = none. 'auto' (default): one less than the hop
   * count to the rendezvous, within 2..4 — past our own NATs (a carrier NAT
   * too), short of the peer's.
   */
  primeTtl: number | 'auto';
  /** Extra sockets on the hard side of birthday probing. Default 256. */
  birthdaySockets: number;
  /** Random-port probes from the easy side of birthday probing. Default 2048, at 1000/s. */
  birthdayProbes: number;
  birthdayPerSecond: number;
  /** Wait this long before the first attempt (the session runs on the relay meanwhile). Default 0. */
  startDelayMs: number;
}

export const DEFAULT_DIRECT: DirectOptions = {
  birthday: true,
  hostCandidates: true,
  keepaliveMs: 15_000,
  punchTimeoutMs: 3000,
  primeTtl: 'auto',
  birthdaySockets: 256,
  birthdayProbes: 2048,
  birthdayPerSecond: 1000,
  startDelayMs: 0,
};

export interface DirectLinkOptions {
  connId: string;
  role: Role;
  sessionKey: Buffer;
  session: TunnelSession;
  udp: UdpSocketFactory;
  scheduler: Scheduler;
  random: RandomSource;
  discovery: ReflexiveDiscovery;
  /** Sends an offer over the control channel; false when the control channel is down. */
  sendControl: (m: ClientMessage) => boolean;
  logger: Logger;
  options?: Partial<DirectOptions>;
  /** This host's addresses (default: the OS's non-internal IPv4 interfaces). */
  hostAddresses?: () => string[];
  /** Address to bind the session socket to (default: any). */
  bindAddress?: string;
}

/** One punch attempt: its sockets (the session socket, plus birthday sockets), what STUN found, the punch once it runs. */
interface AttemptState {
  n: number;
  sockets: UdpSocket[];
  nat: SessionNatInfo | null;
  hops: number | null;
  runner: PunchRunner | null;
}

/** Re-punch backoff after a failed attempt or a lost direct path. */
const RETRY_MS = [500, 2000, 10_000, 30_000, 60_000, 300_000];

/**
 * Priming packets go out at the start; probes this much later. The peer's
 * first probe must not reach our NAT before our primes have left it (the
 * conntrack clash), so this covers the start skew between the two peers
 * (their clocks are synchronised only through the rendezvous's round trips,
 * and a busy host wakes a process late).
 */
const PROBE_LEAD_MS = 100;

/**
 * The direct side of one tunnel session: its UDP socket (one per session,
 * because a NAT mapping belongs to a socket, and it carries STUN, probes,
 * KCP and keepalives alike), the candidates it offers through the
 * rendezvous, the punch, the locked path and that path's health.
 *
 * Events:
 *  'direct' (UdpPath, LockedEndpoint): the session now runs over this path.
 *  'failed' (reason, timeline text): an attempt ended without a path.
 *  'lost' (reason): the direct path died; the session went back to the relay.
 */
export class DirectLink extends EventEmitter {
  private readonly opts: DirectOptions;
  private readonly codec: ProbeCodec;
  private readonly log: Logger;
  private attempt: AttemptState | null = null;
  /** The attempt being gathered or punched (set before any await, so a punch-request for it is not doubled). */
  private currentAttempt = -1;
  private nextAttempt = 0;
  private locked: LockedPath | null = null;
  private retryTimer: TimerHandle | null = null;
  private noPathTimer: TimerHandle | null = null;
  /** The session's last path died (not superseded): the next lock resends what is in flight at once. */
  private pathWasLost = false;
  private failures = 0;
  private lastFailure: string | null = null;
  private closed = false;
  private readonly startedAt: number;
  /** Starts at the configured interval; shortened when idle paths die (see onPathDead). */
  private keepaliveMs: number;
  /** The relay to fall back to while there is no direct path (null: none). */
  relay: DatagramPath | null = null;

  constructor(private readonly o: DirectLinkOptions) {
    super();
    this.opts = { ...DEFAULT_DIRECT, ...o.options };
    this.log = o.logger;
    this.codec = new ProbeCodec(derivePunchKeys(o.sessionKey, o.role, o.connId), (n) => o.random.bytes(n));
    this.startedAt = o.scheduler.now();
    this.keepaliveMs = this.opts.keepaliveMs;
  }

  get directPath(): UdpPath | null {
    return this.locked?.path ?? null;
  }

  /**
   * The relay link closed. On the direct path that changes nothing. Without
   * one, the session keeps its streams for a while and punches again (the
   * same network event often breaks both paths; the control channel comes
   * back on its own): `onGiveUp` ends the session if no path is found in time.
   */
  relayLost(onGiveUp: (reason: string) => void, graceMs = 20_000): void {
    this.relay = null;
    if (this.closed) return;
    if (this.locked !== null) {
      this.log.info('relay-lost', { reason: 'relay link closed; the session stays on the direct path' });
      return;
    }
    this.pathWasLost = true;
    this.log.warn('relay-lost', { reason: 'relay link closed and no direct path yet', waitingMs: graceMs });
    if (this.o.role === 'initiator' && this.attempt === null) {
      // Losing the relay is reason enough to punch now rather than after the backoff.
      this.retryTimer?.cancel();
      this.retryTimer = null;
      void this.gather(this.nextAttempt++);
    }
    this.noPathTimer?.cancel();
    this.noPathTimer = this.o.scheduler.at(this.o.scheduler.now() + graceMs, () => {
      this.noPathTimer = null;
      if (!this.closed && this.locked === null) onGiveUp(`no path to the peer for ${Math.round(graceMs / 1000)} s (relay closed, no direct path)`);
    });
  }

  /** Why the session is (or is not) on the direct path right now, in words for logs. */
  get status(): string {
    if (this.locked !== null) return 'direct path up';
    if (this.attempt?.runner) return 'punching';
    if (this.attempt !== null || this.currentAttempt >= 0 && this.lastFailure === null) return 'looking for a direct path';
    return this.lastFailure !== null ? `no direct path: ${this.lastFailure}` : 'direct path not tried yet';
  }

  /** Starts an attempt: gather candidates and offer them (the visitor's side starts; the provider answers punch-requests). */
  start(): void {
    if (this.nextAttempt === 0 && this.opts.startDelayMs > 0 && this.retryTimer === null) {
      this.retryTimer = this.o.scheduler.at(this.o.scheduler.now() + this.opts.startDelayMs, () => {
        this.retryTimer = null;
        if (this.nextAttempt === 0) void this.gather(this.nextAttempt++);
      });
      return;
    }
    void this.gather(this.nextAttempt++);
  }

  /** The control channel's messages for this session. */
  onControl(m: ServerMessage): void {
    if (this.closed) return;
    if (m.type === 'punch-request') {
      if (this.currentAttempt >= m.attempt) return;
      this.nextAttempt = Math.max(this.nextAttempt, m.attempt + 1);
      void this.gather(m.attempt);
    } else if (m.type === 'punch') {
      void this.onPunch(m);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.retryTimer?.cancel();
    this.noPathTimer?.cancel();
    this.dropAttempt();
    this.locked?.close();
    this.locked = null;
    this.removeAllListeners();
  }

  private async gather(n: number): Promise<void> {
    if (this.closed || n <= this.currentAttempt) return;
    this.currentAttempt = n;
    this.dropAttempt();
    let socket: UdpSocket;
    try {
      socket = await this.o.udp(this.o.bindAddress);
    } catch (err) {
      this.offerNone(n, `cannot open a UDP socket: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (this.closed || this.currentAttempt !== n) return socket.close();
    const state: AttemptState = { n, sockets: [socket], nat: null, hops: null, runner: null };
    this.attempt = state;
    let stunHandler: ((data: Buffer, from: UdpEndpoint) => boolean) | null = null;
    this.routeSocket(state, 0, (data, from) => stunHandler?.(data, from) ?? false);
    const found = await this.o.discovery.discover(socket, (h) => (stunHandler = h));
    if (this.closed || this.attempt !== state) return;
    state.nat = found.nat;
    state.hops = found.hops;
    const candidates: Candidate[] = [];
    const port = socket.localEndpoint().port;
    if (this.opts.hostCandidates) {
      for (const address of this.hostAddresses(socket)) candidates.push({ kind: 'host', address, port });
    }
    if (found.srflx) candidates.push({ kind: 'srflx', ...found.srflx });
    if (found.srflx && found.nat.mapping === 'dependent' && found.nat.allocation === 'sequential' && found.nat.step) {
      // The next mappings of a sequential NAT follow the last one seen.
      for (let k = 1; k <= 8; k++) {
        const p = found.srflx.port + k * found.nat.step;
        if (p > 0 && p < 65536) candidates.push({ kind: 'predicted', address: found.srflx.address, port: p });
      }
    }
    this.log.debug('candidates', { attempt: n, candidates: candidates.map((c) => `${c.kind} ${c.address}:${c.port}`).join(', '), nat: found.detail });
    const offer: ClientMessage = {
      type: 'offer',
      connId: this.o.connId,
      attempt: n,
      candidates: found.nat.udp ? candidates : [],
      nat: found.nat.step === undefined ? { udp: found.nat.udp, mapping: found.nat.mapping, allocation: found.nat.allocation } : { ...found.nat, step: found.nat.step },
    };
    if (!found.nat.udp) offer.reason = 'UDP is blocked here: no STUN answer from the rendezvous over UDP';
    if (!this.o.sendControl(offer)) this.scheduleRetry('the control channel is down');
  }

  private offerNone(n: number, reason: string): void {
    this.log.warn('direct-unavailable', { reason });
    this.o.sendControl({ type: 'offer', connId: this.o.connId, attempt: n, candidates: [], reason });
  }

  private async onPunch(m: Extract<ServerMessage, { type: 'punch' }>): Promise<void> {
    const state = this.attempt;
    if (state === null || state.n !== m.attempt) return;
    if (m.candidates.length === 0 || state.nat === null) {
      return this.attemptFailed(state, m.reason ?? 'the peer offered no candidates', '');
    }
    const remoteNat: SessionNatInfo = m.nat ? { ...m.nat } : { udp: true, mapping: 'unknown', allocation: 'unknown' };
    const plan = planPunch(state.nat, remoteNat, { birthday: this.opts.birthday });
    if (!plan.direct) return this.attemptFailed(state, plan.reason, '', true);
    const startAt = this.o.scheduler.now() + m.startInMs;
    let birthday: BirthdayRole | null = null;
    if (plan.birthday?.hard === 'local') {
      birthday = { role: 'hard', sockets: this.opts.birthdaySockets, startAfterMs: 500 };
      for (let i = 0; i < this.opts.birthdaySockets; i++) {
        try {
          const s = await this.o.udp(this.o.bindAddress);
          if (this.attempt !== state) return s.close();
          state.sockets.push(s);
          this.routeSocket(state, state.sockets.length - 1, () => false);
        } catch {
          break; // fewer sockets, lower odds; still bounded
        }
      }
      birthday.sockets = state.sockets.length - 1;
    } else if (plan.birthday?.hard === 'remote') {
      birthday = { role: 'easy', probes: this.opts.birthdayProbes, perSecond: this.opts.birthdayPerSecond, startAfterMs: 600 };
    }
    const punch = new PunchSession({
      codec: this.codec,
      remote: m.candidates,
      startAt,
      random: (n) => this.o.random.bytes(n),
      timeoutMs: this.opts.punchTimeoutMs + (birthday ? 3000 : 0),
      primeTtl: this.primeTtl(state.hops),
      probeLeadMs: PROBE_LEAD_MS,
      localHosts: this.hostAddresses(state.sockets[0]!),
      birthday,
    });
    this.log.info('punch-start', {
      attempt: m.attempt,
      peerCandidates: m.candidates.length,
      plan: plan.reason,
      startInMs: Math.round(m.startInMs),
      primeTtl: this.primeTtl(state.hops),
    });
    state.runner = new PunchRunner(punch, this.codec, state.sockets, this.o.scheduler, (locked, p) => {
      if (locked) this.onLocked(state, locked);
      else this.attemptFailed(state, p.failure ?? 'no answer', p.timeline.format());
    });
    state.runner.start();
  }

  private routeSocket(state: AttemptState, index: number, stun: (data: Buffer, from: UdpEndpoint) => boolean): void {
    const socket = state.sockets[index]!;
    socket.onError(() => {});
    socket.onMessage((data, from) => {
      const kind = data[0];
      if (kind === undefined) return;
      if (kind === PacketKind.Probe) {
        if (this.attempt === state && state.runner !== null) state.runner.feed(data, from, index);
        else this.onProbeOutsidePunch(data, from, socket);
        return;
      }
      if (kind === PacketKind.Session) return this.onSessionPacket(data);
      if (looksLikeStun(kind)) stun(data, from);
    });
  }

  /** A session packet on an attempt's socket (the peer locked before we did). */
  private onSessionPacket(data: Buffer): void {
    this.o.session.receive(data);
  }

  /** Probe-kind packets on an attempt's socket before its punch runs: answer, nothing more. */
  private onProbeOutsidePunch(data: Buffer, from: UdpEndpoint, socket: UdpSocket): void {
    const p = this.codec.open(data);
    if (p === null) return;
    if (p.type === ProbeType.Probe) socket.send(this.codec.make(ProbeType.Ack, from, p.nonce).data, from);
    else if (p.type === ProbeType.Keepalive) socket.send(this.codec.make(ProbeType.KeepaliveAck, from, p.nonce).data, from);
  }

  private onLocked(state: AttemptState, found: LockedEndpoint): void {
    if (this.closed || this.attempt !== state) return;
    const socket = state.sockets[found.socket]!;
    // Keep only the socket that won; its NAT mapping is the path.
    state.sockets.forEach((s, i) => {
      if (i !== found.socket) s.close();
    });
    state.sockets = [];
    this.attempt = null;
    const old = this.locked;
    const locked = new LockedPath({
      socket,
      remote: found.remote,
      codec: this.codec,
      scheduler: this.o.scheduler,
      session: this.o.session,
      keepaliveMs: this.keepaliveMs,
      onDead: (idle) => {
        if (this.locked === locked) this.onPathDead(idle);
      },
    });
    this.locked = locked;
    this.failures = 0;
    this.lastFailure = null;
    this.noPathTimer?.cancel();
    this.noPathTimer = null;
    // After a loss, what is in flight died with the old path: resend it here now.
    this.o.session.setPath(locked.path, { previousDied: this.pathWasLost });
    this.pathWasLost = false;
    old?.close();
    this.log.info('direct-up', {
      path: describeCandidate({ kind: found.kind, ...found.remote }),
      remote: `${found.remote.address}:${found.remote.port}`,
      candidate: found.kind,
      rttMs: Math.round(found.rttMs * 10) / 10,
      punchMs: Math.round(found.afterMs),
      sinceSessionMs: Math.round(this.o.scheduler.now() - this.startedAt),
    });
    this.emit('direct', locked.path, found);
  }

  private onPathDead(idle: number | null): void {
    const dead = this.locked;
    if (idle !== null && idle >= 1000) {
      // The path died after idling: this NAT forgets mappings sooner than our
      // keepalive. Keep future paths alive more often (bounded below at 1 s).
      const next = Math.max(1000, Math.min(this.keepaliveMs / 2, idle / 2));
      if (next < this.keepaliveMs) {
        this.log.info('keepalive-shortened', { fromMs: Math.round(this.keepaliveMs), toMs: Math.round(next), idleBeforeLossMs: Math.round(idle) });
        this.keepaliveMs = next;
      }
    }
    this.locked = null;
    dead?.close();
    const reason = 'no answer on the direct path (NAT mapping changed or the peer went away)';
    this.lastFailure = `${reason}; punching again`;
    this.pathWasLost = true;
    if (this.relay !== null) this.o.session.setPath(this.relay, { previousDied: true });
    this.log.warn('direct-lost', { reason, fallback: this.relay ? 'relay' : 'none' });
    this.emit('lost', reason);
    // Punch again at once with a fresh socket (a fresh NAT mapping).
    // The visitor drives attempts; the provider answers the punch-request that follows.
    if (this.o.role === 'initiator') this.start();
  }

  private attemptFailed(state: AttemptState, reason: string, timeline: string, hopeless = false): void {
    if (this.attempt !== state) return;
    state.runner?.stop(reason);
    this.dropAttempt();
    this.failures++;
    this.lastFailure = reason;
    this.log.warn('punch-failed', { reason, fallback: this.relay ? 'relay' : 'none', attempt: state.n, ...(timeline ? { timeline: `\n${timeline}` } : {}) });
    this.emit('failed', reason, timeline);
    this.scheduleRetry(reason, hopeless);
  }

  private scheduleRetry(reason: string, hopeless = false): void {
    if (this.closed || this.retryTimer !== null || this.locked !== null) return;
    // The visitor drives attempts; the provider answers punch-requests.
    if (this.o.role !== 'initiator') return;
    const delay = hopeless ? 600_000 : RETRY_MS[Math.min(this.failures, RETRY_MS.length) - 1] ?? RETRY_MS[0]!;
    this.log.debug('punch-retry', { inMs: delay, reason });
    this.retryTimer = this.o.scheduler.at(this.o.scheduler.now() + delay, () => {
      this.retryTimer = null;
      if (this.locked === null) this.start();
    });
  }

  private dropAttempt(): void {
    const a = this.attempt;
    if (a === null) return;
    this.attempt = null;
    a.runner?.stop('superseded');
    for (const s of a.sockets) s.close();
  }

  private primeTtl(hops: number | null): number {
    if (this.opts.primeTtl !== 'auto') return this.opts.primeTtl;
    return hops === null ? 2 : Math.min(4, Math.max(2, hops - 1));
  }

  private hostAddresses(socket: UdpSocket): string[] {
    if (this.o.hostAddresses) return this.o.hostAddresses();
    const bound = socket.localEndpoint().address;
    if (bound !== '0.0.0.0' && bound !== '::') return [bound];
    const out: string[] = [];
    for (const list of Object.values(networkInterfaces())) {
      for (const i of list ?? []) if (i.family === 'IPv4' && !i.internal) out.push(i.address);
    }
    return out.slice(0, 8);
  }
}
