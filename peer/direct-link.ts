import { EventEmitter } from 'node:events';
import type { Scheduler, TimerHandle } from '../src/clock/scheduler.js';
import type { RandomSource } from '../src/clock/random.js';
import type { ClientMessage, ServerMessage } from '../src/control/index.js';
import {
  AttemptMachine,
  DIRECT_TIMERS,
  LockedPath,
  primeTtlFor,
  type AttemptAction,
  type DirectSession,
  type UdpPath,
} from '../src/direct/index.js';
import type { Logger } from '../src/log/logger.js';
import type { UdpSocketFactory } from '../src/net/udp-factory.js';
import type { UdpSocket } from '../src/net/udp-socket.js';
import type { DatagramPath } from '../src/path/datagram-path.js';
import type { RecordPath } from '../src/path/record-path.js';
import type { Role } from '../src/role.js';
import {
  ProbeCodec,
  PunchRunner,
  PunchSession,
  derivePunchKeys,
  describePath,
  type BirthdayRole,
  type LockedEndpoint,
  type SessionNatInfo,
} from '../src/punch/index.js';
import { formatEndpoint } from '../src/net/endpoint.js';
import { Attempt } from './direct/attempt.js';
import { realPortMapper, type PortMapChoice } from './direct/attempt-portmap.js';
import { SessionPortMaps } from './direct/session-portmaps.js';
import type { PortMapProtocol } from '../src/portmap/index.js';
import { SessionSockets, socketFamily } from './direct/session-sockets.js';
import { attemptCandidates, buildOffer } from './direct/offer.js';
import { planFamilies } from './direct/family-plan.js';
import { discoverBoth, tooSlow } from './direct/discover-both.js';
import { DEFAULT_DIRECT, type DirectOptions, type ReflexiveDiscovery } from './direct/options.js';
import { SocketErrorLog } from './direct/socket-error-log.js';

export { DEFAULT_DIRECT, type DirectOptions, type DiscoveryResult, type ReflexiveDiscovery } from './direct/options.js';
export { releasePortMappings, type PortMapChoice, type PortMapperFactory, type SessionPortMapper } from './direct/attempt-portmap.js';

export interface DirectLinkOptions {
  connId: string;
  role: Role;
  sessionKey: Buffer;
  session: DirectSession;
  udp: UdpSocketFactory;
  scheduler: Scheduler;
  random: RandomSource;
  discovery: ReflexiveDiscovery;
  /** Sends an offer over the control channel; false when the control channel is down. */
  sendControl: (m: ClientMessage) => boolean;
  logger: Logger;
  options?: Partial<DirectOptions>;
  /**
   * This host's addresses, both families (default: the OS's non-internal
   * IPv4 interface addresses and its global IPv6 ones, see host-addresses.ts).
   */
  hostAddresses?: () => string[];
  /**
   * Address to bind the session socket to (default: any IPv4 address, plus
   * an IPv6 session socket bound to this host's first global IPv6 address
   * when it has one). Given, it is the only session socket.
   */
  bindAddress?: string;
  /**
   * Ask the home router to map each attempt's session socket (NAT-PMP, PCP,
   * UPnP IGD) and offer the mapping as a `mapped` candidate. Default: the
   * real PortMapper over `udp`; 'none' never asks (in-process runs, --no-portmap).
   */
  portmap?: PortMapChoice;
}

/**
 * The direct side of one tunnel session: its UDP socket (one per session,
 * because a NAT mapping belongs to a socket, and it carries STUN, probes,
 * KCP and keepalives alike), the candidates it offers through the
 * rendezvous, the punch, the locked path and that path's health.
 *
 * The I/O shell around an AttemptMachine (src/direct/attempt-machine.ts),
 * which decides when to punch, retry, fall back and give up; this class
 * opens sockets, talks to the rendezvous, runs the punch and the locked path,
 * and logs. Timer values: src/direct/timers.ts.
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
  private readonly machine: AttemptMachine;
  private readonly errors: SocketErrorLog;
  private attempt: Attempt | null = null;
  private locked: LockedPath | null = null;
  private readonly portmaps: SessionPortMaps;
  private readonly sockets: SessionSockets;
  private timer: TimerHandle | null = null;
  private timerAt = Infinity;
  private onGiveUp: ((reason: string) => void) | null = null;
  private closed = false;
  private readonly startedAt: number;
  /** The relay to fall back to while there is no direct path (null: none). */
  relay: RecordPath | DatagramPath | null = null;

  constructor(private readonly o: DirectLinkOptions) {
    super();
    this.opts = { ...DEFAULT_DIRECT, ...o.options };
    this.log = o.logger;
    this.codec = new ProbeCodec(derivePunchKeys(o.sessionKey, o.role, o.connId), (n) => o.random.bytes(n));
    this.startedAt = o.scheduler.now();
    this.machine = new AttemptMachine({ role: o.role, startDelayMs: this.opts.startDelayMs, keepaliveMs: this.opts.keepaliveMs });
    this.errors = new SocketErrorLog(o.logger);
    const mapper = o.portmap === 'none' ? null : (o.portmap ?? realPortMapper({ udp: o.udp, scheduler: o.scheduler, random: o.random, log: o.logger, bindAddress: o.bindAddress }));
    this.portmaps = new SessionPortMaps(mapper, o.logger);
    this.sockets = new SessionSockets(o.udp, o.bindAddress, o.hostAddresses, o.logger);
  }

  get directPath(): UdpPath | null {
    return this.locked?.path ?? null;
  }

  /** The router port mappings this session holds now, by protocol (one entry each). */
  get portMappings(): readonly PortMapProtocol[] {
    return this.portmaps.held();
  }

  /** Socket errors seen on this session's direct sockets (all, and the fatal ones). */
  get socketErrors(): { readonly total: number; readonly fatal: number } {
    return this.errors.counts;
  }

  /**
   * The relay link closed. On the direct path that changes nothing. Without
   * one, the session keeps its streams for a while and punches again (the
   * same network event often breaks both paths; the control channel comes
   * back on its own): `onGiveUp` ends the session if no path is found in time.
   */
  relayLost(onGiveUp: (reason: string) => void, graceMs: number = DIRECT_TIMERS.relayLostGiveUpMs): void {
    this.relay = null;
    const outcome = this.machine.relayLost(this.o.scheduler.now(), graceMs);
    if (outcome === 'closed') return;
    // Kept even while direct: if that path dies later, the session has no path at all.
    this.onGiveUp = onGiveUp;
    if (outcome === 'direct') {
      this.log.info('relay-lost', { reason: 'relay link closed; the session stays on the direct path' });
      return;
    }
    this.log.warn('relay-lost', { reason: 'relay link closed and no direct path yet', waitingMs: graceMs });
    this.apply();
  }

  /** Why the session is (or is not) on the direct path right now, in words for logs. */
  get status(): string {
    return this.machine.status;
  }

  /** Starts an attempt: gather candidates and offer them (the visitor's side starts; the provider answers punch-requests). */
  start(): void {
    this.machine.start(this.o.scheduler.now());
    this.apply();
  }

  /** The control channel came back on a new connection (see AttemptMachine.controlReconnected). */
  controlReconnected(): void {
    if (this.closed) return;
    this.machine.controlReconnected();
    this.apply();
  }

  /** The control channel's messages for this session. */
  onControl(m: ServerMessage): void {
    if (this.closed) return;
    if (m.type === 'punch-request') {
      this.machine.punchRequest(m.attempt);
      this.apply();
    } else if (m.type === 'punch') {
      this.onPunch(m).catch((err: unknown) => this.attemptCrashed(m.attempt, 'punch', err));
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.machine.close();
    this.timer?.cancel();
    this.timer = null;
    this.dropAttempt();
    this.locked?.close();
    this.locked = null;
    this.portmaps.close();
    this.removeAllListeners();
  }

  /** Does what the machine decided, then wakes it at its next deadline. */
  private apply(): void {
    for (const a of this.machine.drain()) {
      if (this.closed) return;
      this.act(a);
    }
    if (this.closed) return;
    const next = this.machine.nextDeadline();
    if (next === this.timerAt) return;
    this.timer?.cancel();
    this.timer = null;
    this.timerAt = next ?? Infinity;
    if (next === null) return;
    this.timer = this.o.scheduler.at(next, () => {
      this.timer = null;
      this.timerAt = Infinity;
      this.machine.tick(this.o.scheduler.now());
      this.apply();
    });
  }

  private act(a: AttemptAction): void {
    switch (a.type) {
      case 'gather':
        this.gather(a.attempt).catch((err: unknown) => this.attemptCrashed(a.attempt, 'gather', err));
        return;
      case 'fall-back':
        return this.fallBack(a.reason);
      case 'keepalive':
        this.log.info('keepalive-shortened', { fromMs: Math.round(a.fromMs), toMs: Math.round(a.toMs), idleBeforeLossMs: Math.round(a.idleBeforeLossMs) });
        return;
      case 'arm':
        if (a.timer === 'retry' || a.timer === 'hopeless-retry') {
          this.log.debug('punch-retry', { inMs: Math.round(a.at - this.o.scheduler.now()), reason: a.reason ?? '' });
        }
        return;
      case 'cancel':
        return;
      case 'give-up':
        this.onGiveUp?.(a.reason);
        return;
    }
  }

  private async gather(n: number): Promise<void> {
    this.dropAttempt();
    let socket: UdpSocket;
    try {
      socket = await this.o.udp(this.o.bindAddress);
    } catch (err) {
      this.machine.socketFailed(n);
      this.offerNone(n, `cannot open a UDP socket: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (this.closed || !this.machine.isCurrent(n)) return socket.close();
    const state = new Attempt(n, {
      codec: this.codec,
      onSession: (data) => this.o.session.receive(data),
      onError: (index, err) => this.onAttemptSocketError(state, index, err),
    });
    this.attempt = state;
    state.add(socket);
    const openedAt = this.o.scheduler.now();
    const port = socket.localEndpoint().port;
    const primaryIs6 = socketFamily(socket) === 6;
    if (primaryIs6) {
      state.families.v6 = 0;
    } else {
      state.families.v4 = 0;
      // The router is asked while discovery runs; the offer waits for it only briefly (DIRECT_TIMERS.portmapGraceMs).
      state.portmap = this.portmaps.start(n, port);
    }
    // A mapping or pinhole belongs to a socket: IPv6 gets a session socket of its own.
    const socket6 = primaryIs6 ? null : await this.sockets.openIpv6();
    if (this.closed || this.attempt !== state) return socket6?.close();
    const index6 = socket6 === null ? undefined : state.add(socket6);
    if (index6 !== undefined) state.families.v6 = index6;
    const both = await discoverBoth(
      this.o.discovery.discover(socket, (h) => state.routeStun(0, h)),
      socket6 === null || index6 === undefined ? null : this.o.discovery.discover(socket6, (h) => state.routeStun(index6, h)),
      this.o.scheduler,
      openedAt + DIRECT_TIMERS.portmapGraceMs,
    );
    if (this.closed || this.attempt !== state) return;
    // Only the primary IPv4 socket can be late: it is late only next to an IPv6 one.
    const found = both.primary ?? tooSlow('IPv4', 'IPv6');
    const found6 = both.second;
    await state.portmap?.settledBy(this.o.scheduler, openedAt + DIRECT_TIMERS.portmapGraceMs);
    if (this.closed || this.attempt !== state) return;
    state.nat = found.nat;
    state.natReason = found.reason;
    state.hops = found.hops ?? found6?.hops ?? null;
    const mapped = !primaryIs6 && found.nat.udp ? (state.portmap?.offer() ?? null) : null;
    state.offeredMapped = mapped !== null;
    const local6 = socket6?.localEndpoint() ?? null;
    const { candidates, why, offeredIpv6 } = attemptCandidates({
      primary: { found, hosts: this.opts.hostCandidates ? this.sockets.hostsOf(socket) : [], port, mapped, is6: primaryIs6 },
      v6: local6 === null ? null : { found: found6 ?? tooSlow('IPv6', 'IPv4'), local: local6, host: this.opts.hostCandidates },
    });
    state.offeredIpv6 = offeredIpv6;
    state.localHosts = [...this.sockets.hostsOf(socket), ...(local6 === null ? [] : [local6.address])];
    if (found.reason !== undefined) {
      if (candidates.length === 0) this.log.warn('direct-unavailable', { reason: [found.reason, ...why].join('; ') });
      else this.log.info('direct-family-unavailable', { family: primaryIs6 ? 'IPv6' : 'IPv4', reason: found.reason, using: 'IPv6' });
    }
    this.log.debug('candidates', {
      attempt: n,
      candidates: candidates.map((c) => `${c.kind} ${formatEndpoint(c)}`).join(', '),
      nat: found.detail,
      ...(found6 ? { nat6: found6.detail } : {}),
    });
    const sent = this.o.sendControl(buildOffer(this.o.connId, n, found, candidates, why));
    this.machine.offered(n, sent, this.o.scheduler.now());
    this.apply();
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
    const peerNat = m.nat;
    const remoteNat: SessionNatInfo = peerNat
      ? { udp: peerNat.udp, mapping: peerNat.mapping, allocation: peerNat.allocation, ...(peerNat.step !== undefined ? { step: peerNat.step } : {}) }
      : { udp: true, mapping: 'unknown', allocation: 'unknown' };
    const families = planFamilies({
      local: { nat: state.nat, sockets: state.families, offeredMapped: state.offeredMapped, offeredIpv6: state.offeredIpv6, reason: state.natReason },
      remote: { nat: remoteNat, candidates: m.candidates },
      birthday: this.opts.birthday,
      localLeads: this.o.role === 'initiator',
    });
    const plan = families.v4;
    // Hopeless unless our router may still map (or mapped after the offer): the next attempt offers that.
    if (!plan.direct && !families.v6) return this.attemptFailed(state, families.reason, '', state.portmap?.mayMapLater !== true);
    const startAt = this.o.scheduler.now() + m.startInMs;
    let birthday: BirthdayRole | null = null;
    const birthdayPlan = plan.direct ? plan.birthday : null;
    if (birthdayPlan?.hard === 'local') {
      const firstSocket = state.sockets.length;
      birthday = { role: 'hard', sockets: this.opts.birthdaySockets, startAfterMs: DIRECT_TIMERS.birthdayHardStartMs, firstSocket };
      for (let i = 0; i < this.opts.birthdaySockets; i++) {
        try {
          const s = await this.o.udp(this.o.bindAddress);
          if (this.attempt !== state) return s.close();
          state.add(s);
        } catch {
          break; // fewer sockets, lower odds; still bounded
        }
      }
      birthday.sockets = state.sockets.length - firstSocket;
    } else if (birthdayPlan?.hard === 'remote') {
      birthday = { role: 'easy', probes: this.opts.birthdayProbes, perSecond: this.opts.birthdayPerSecond, startAfterMs: DIRECT_TIMERS.birthdayEasyStartMs };
    }
    if (this.attempt !== state) return;
    const primeTtl = primeTtlFor(this.opts.primeTtl, state.hops);
    const punch = new PunchSession({
      codec: this.codec,
      remote: families.remote,
      startAt,
      random: (n) => this.o.random.bytes(n),
      timeoutMs: this.opts.punchTimeoutMs + (birthday ? DIRECT_TIMERS.birthdayExtraMs : 0),
      primeTtl,
      probeLeadMs: DIRECT_TIMERS.probeLeadMs,
      lanGraceMs: DIRECT_TIMERS.lanGraceMs,
      localHosts: state.localHosts,
      birthday,
      awaitPeer: plan.direct && plan.awaitPeer === true,
      sockets: state.families,
    });
    this.log.info('punch-start', {
      attempt: m.attempt,
      peerCandidates: m.candidates.length,
      plan: families.reason,
      startInMs: Math.round(m.startInMs),
      primeTtl,
    });
    this.machine.punchStarted(state.n);
    state.runner = new PunchRunner(punch, this.codec, state.sockets, this.o.scheduler, (locked, p) => {
      if (locked) this.onLocked(state, locked);
      else this.attemptFailed(state, p.failure ?? 'no answer', p.timeline.format());
    });
    state.runner.start();
  }

  private onLocked(state: Attempt, found: LockedEndpoint): void {
    if (this.closed || this.attempt !== state) return;
    const lock = this.machine.punchLocked(state.n);
    if (lock === null) return;
    this.attempt = null;
    // Keep only the socket that won; its NAT mapping is the path.
    const { socket, portmap } = state.release(found.socket);
    if (socket === undefined) {
      portmap?.close();
      return;
    }
    const old = this.locked;
    const locked = new LockedPath({
      socket,
      remote: found.remote,
      codec: this.codec,
      scheduler: this.o.scheduler,
      session: this.o.session,
      keepaliveMs: this.machine.keepaliveMs,
      hostAddresses: state.localHosts,
      onDead: (idle) => {
        if (this.locked !== locked) return;
        this.machine.pathDied(idle, this.o.scheduler.now());
        this.apply();
      },
      onSocketError: (err) => {
        if (this.locked !== locked) return;
        const e = this.errors.record(err, { socket: 'path', attempt: state.n });
        if (!e.fatal) return;
        this.machine.pathFailed(`the direct path's socket failed (${e.reason})`, this.o.scheduler.now());
        this.apply();
      },
    });
    this.locked = locked;
    // After a loss, what is in flight died with the old path: resend it here now.
    this.o.session.setPath(locked.path, { previousDied: lock.previousDied });
    old?.close();
    this.portmaps.pathOn(portmap);
    this.log.info('direct-up', {
      path: describePath({ address: found.remote.address, lan: found.lan }),
      remote: formatEndpoint(found.remote),
      candidate: found.kind,
      rttMs: Math.round(found.rttMs * 10) / 10,
      punchMs: Math.round(found.afterMs),
      sinceSessionMs: Math.round(this.o.scheduler.now() - this.startedAt),
    });
    this.apply();
    this.emit('direct', locked.path, found);
  }

  /** The locked path is gone: the session goes back to the relay (the machine punches again). */
  private fallBack(reason: string): void {
    const dead = this.locked;
    this.locked = null;
    dead?.close();
    this.portmaps.pathGone();
    if (this.relay !== null) this.o.session.setPath(this.relay, { previousDied: true });
    this.log.warn('direct-lost', { reason, fallback: this.relay ? 'relay' : 'none' });
    this.emit('lost', reason);
  }

  private onAttemptSocketError(state: Attempt, index: number, err: Error): void {
    const session = state.isSessionSocket(index);
    const e = this.errors.record(err, { socket: session ? 'session' : 'birthday', attempt: state.n });
    // A birthday socket that fails costs only its own odds; a session socket ends the attempt.
    if (e.fatal && session) this.attemptFailed(state, `the session socket failed (${e.reason})`, state.runner?.punch.timeline.format() ?? '');
  }

  private attemptFailed(state: Attempt, reason: string, timeline: string, hopeless = false): void {
    if (this.attempt !== state) return;
    if (!this.machine.punchFailed(state.n, reason, hopeless, this.o.scheduler.now())) return;
    this.dropAttempt(reason);
    this.log.warn('punch-failed', { reason, fallback: this.relay ? 'relay' : 'none', attempt: state.n, ...(timeline ? { timeline: `\n${timeline}` } : {}) });
    this.emit('failed', reason, timeline);
    this.apply();
  }

  /**
   * A throw inside an attempt's async steps is a bug, not bad input: it ends
   * that attempt like a failed punch (logged with the step), never as an
   * unhandled rejection.
   */
  private attemptCrashed(n: number, step: string, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.log.error('direct-attempt-error', { attempt: n, step, error: message });
    if (this.closed) return;
    const state = this.attempt;
    if (state !== null && state.n === n) this.attemptFailed(state, `internal error while the attempt was at ${step}: ${message}`, '');
  }

  private dropAttempt(reason = 'superseded'): void {
    const a = this.attempt;
    if (a === null) return;
    this.attempt = null;
    a.close(reason);
  }
}

