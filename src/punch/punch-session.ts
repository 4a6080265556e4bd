import { formatEndpoint, sameAddress, sameEndpoint } from '../net/endpoint.js';
import { addressFamily } from '../net/ip.js';
import type { UdpEndpoint } from '../net/udp-socket.js';
import { at } from '../util/at.js';
import { isLanCandidate, normaliseCandidates, sharesSubnet, type Candidate, type CandidateKind } from './candidate.js';
import { choosePath, otherFamilyWaitMs } from './path-choice.js';
import { ProbeType, type ProbeCodec, type RandomBytes } from './probe-codec.js';
import type { ProbePacket } from './probe-packet.js';
import { PunchTimeline } from './timeline.js';

/** One datagram to send: from which of the session's sockets, where, and at what TTL. */
export interface Transmit {
  socket: number;
  to: UdpEndpoint;
  data: Buffer;
  /** Send with this IP TTL (low-TTL priming); undefined = the socket's normal TTL. */
  ttl?: number;
}

export interface LockedEndpoint {
  /** Which local socket reaches it (0 = the session socket; others only in birthday probing). */
  socket: number;
  remote: UdpEndpoint;
  kind: CandidateKind;
  /** Probe round trip that proved the path. */
  rttMs: number;
  /** ms from the start of the punch. */
  afterMs: number;
  /** The peer is on a LAN we share (see isLanCandidate). */
  lan: boolean;
}

/** Which of the session's sockets sends to each address family (undefined: that family is not tried). */
export interface FamilySockets {
  v4?: number;
  v6?: number;
}

export type BirthdayRole =
  /** Behind the random symmetric NAT: opens many mappings toward the peer (TTL-limited, so they never reach it). */
  | { role: 'hard'; sockets: number; startAfterMs: number; refreshMs?: number; /** Index of the first extra socket. Default 1. */ firstSocket?: number }
  /** Behind the endpoint-independent NAT: sprays random ports of the hard side's address. */
  | { role: 'easy'; probes: number; perSecond: number; startAfterMs: number; minPort?: number; maxPort?: number };

export interface PunchSessionOptions {
  codec: ProbeCodec;
  /** Candidates the peer announced. */
  remote: readonly Candidate[];
  /** When both peers begin (synchronised by the rendezvous), on this session's clock. */
  startAt: number;
  random: RandomBytes;
  /** Give up this long after the start. Default 6000 ms. */
  timeoutMs?: number;
  /** TTL of priming packets: leaves our NAT, dies in the core before the peer's NAT. 0 = no priming. Default 2. */
  primeTtl?: number;
  primeCount?: number;
  /** Gap between the priming packets and the first probe. Default 10 ms. */
  probeLeadMs?: number;
  /** Offsets (ms) between probe rounds; the last repeats. */
  roundGapsMs?: readonly number[];
  /** After a non-LAN path answers, wait this long for a LAN one when the peer offered LAN addresses we share. */
  lanGraceMs?: number;
  /** Our own interface addresses (to tell whether the peer's host candidates share our LAN). */
  localHosts?: readonly string[];
  /** Probes sent to the locked endpoint after locking, so the peer locks too. Default 3. */
  afterLockProbes?: number;
  maxCandidates?: number;
  maxPeerReflexive?: number;
  birthday?: BirthdayRole | null;
  /**
   * Send nothing unsolicited from the IPv4 session socket (no primes, no
   * probe rounds): only answer probes and probe back where they came from.
   * For a side that waits at its router port mapping (see planPunch).
   */
  awaitPeer?: boolean;
  /**
   * The session socket of each family (a NAT mapping or firewall pinhole
   * belongs to one socket). Default: socket 0 for both (one dual-stack or
   * single-family socket).
   */
  sockets?: FamilySockets;
}

export type PunchState = 'waiting' | 'punching' | 'locked' | 'failed';

export interface PunchStats {
  probesSent: number;
  primesSent: number;
  probesReceived: number;
  acksReceived: number;
  acksSent: number;
  /** Authenticated acks that did not match a probe we sent to that endpoint (possible relaying). */
  acksUnmatched: number;
  birthdayProbesSent: number;
}

interface Outstanding {
  socket: number;
  to: UdpEndpoint;
  kind: CandidateKind;
  sentAt: number;
}

const MAX_OUTSTANDING = 4096;
const MAX_QUEUE = 8192;
const DEFAULT_GAPS = [25, 25, 50, 100, 100, 200, 250, 300, 500];

/**
 * Sans-I/O UDP hole punching for one session (feed it packets and time, take
 * out datagrams and the next deadline).
 *
 * Both peers start at the same instant: each first sends a few low-TTL
 * priming packets to the peer's public candidates (they open this side's NAT
 * mapping and die in the core, so the peer's NAT records no unsolicited
 * packet to clash with later — the Linux conntrack race), then authenticated
 * probes to every candidate in paced rounds. Every authenticated probe is
 * answered with an ack to wherever it came from (a new address there is a
 * peer-reflexive candidate, probed at once). The first ack that comes back
 * from the very endpoint we probed, and echoes that probe's nonce, proves a
 * two-way path: we lock onto it. A forged or replayed packet cannot do that
 * without the session key and a fresh nonce.
 */
export class PunchSession {
  state: PunchState = 'waiting';
  locked: LockedEndpoint | null = null;
  failure: string | null = null;
  readonly timeline: PunchTimeline;
  readonly stats: PunchStats = {
    probesSent: 0,
    primesSent: 0,
    probesReceived: 0,
    acksReceived: 0,
    acksSent: 0,
    acksUnmatched: 0,
    birthdayProbesSent: 0,
  };

  private readonly codec: ProbeCodec;
  private readonly random: RandomBytes;
  private candidates: Candidate[];
  private readonly maxCandidates: number;
  private readonly maxPeerReflexive: number;
  private peerReflexive = 0;
  private readonly outstanding = new Map<string, Outstanding>();
  private queue: Transmit[] = [];
  private readonly startAt: number;
  private readonly deadlineAt: number;
  private readonly primeTtl: number;
  private readonly primeCount: number;
  private readonly probeLeadMs: number;
  private readonly gaps: readonly number[];
  private readonly lanGraceMs: number;
  private readonly lanPossible: boolean;
  private readonly afterLockProbes: number;
  private round = 0;
  private nextRoundAt: number;
  private pendingLock: (LockedEndpoint & { graceUntil: number }) | null = null;
  private afterLockLeft = 0;
  private afterLockAt = 0;
  private readonly birthday: BirthdayRole | null;
  private birthdayNextAt: number;
  private birthdayLeft = 0;
  private birthdayNonce: Buffer | null = null;
  private birthdaySprayStartedAt = 0;
  private readonly birthdayPorts = new Set<number>();
  private readonly awaitPeer: boolean;
  private readonly familySockets: FamilySockets;
  private readonly localHosts: readonly string[];

  constructor(opts: PunchSessionOptions) {
    this.codec = opts.codec;
    this.random = opts.random;
    this.maxCandidates = opts.maxCandidates ?? 32;
    this.maxPeerReflexive = opts.maxPeerReflexive ?? 8;
    this.candidates = normaliseCandidates(opts.remote, this.maxCandidates);
    this.startAt = opts.startAt;
    this.deadlineAt = opts.startAt + (opts.timeoutMs ?? 6000);
    this.primeTtl = opts.primeTtl ?? 2;
    this.primeCount = opts.primeCount ?? 3;
    this.probeLeadMs = opts.probeLeadMs ?? 10;
    this.gaps = opts.roundGapsMs && opts.roundGapsMs.length > 0 ? opts.roundGapsMs : DEFAULT_GAPS;
    this.lanGraceMs = opts.lanGraceMs ?? 150;
    this.afterLockProbes = opts.afterLockProbes ?? 3;
    this.nextRoundAt = this.startAt + (this.primeTtl > 0 ? this.probeLeadMs : 0);
    this.birthday = opts.birthday ?? null;
    this.awaitPeer = opts.awaitPeer === true;
    this.familySockets = opts.sockets ?? { v4: 0, v6: 0 };
    this.birthdayNextAt = this.birthday ? this.startAt + this.birthday.startAfterMs : Infinity;
    if (this.birthday?.role === 'easy') this.birthdayLeft = this.birthday.probes;
    this.localHosts = opts.localHosts ?? [];
    this.lanPossible = this.candidates.some((c) => sharesSubnet(c, this.localHosts));
    this.timeline = new PunchTimeline(this.startAt);
    for (const c of this.candidates) this.timeline.record(this.startAt, 'candidate', c, c.kind);
  }

  get remoteCandidates(): readonly Candidate[] {
    return this.candidates;
  }

  /** Datagrams to send now; the queue is emptied. */
  drain(): Transmit[] {
    const out = this.queue;
    this.queue = [];
    return out;
  }

  /** When `tick` wants to run next, or null when it has nothing left to do on its own. */
  nextDeadline(): number | null {
    if (this.state === 'failed') return null;
    if (this.state === 'waiting') return this.startAt;
    const times: number[] = [];
    if (this.state === 'punching') {
      times.push(this.deadlineAt, this.nextRoundAt);
      if (this.pendingLock) times.push(this.pendingLock.graceUntil);
      if (this.birthday && this.birthdayNextAt !== Infinity) times.push(this.birthdayNextAt);
    }
    if (this.state === 'locked' && this.afterLockLeft > 0) times.push(this.afterLockAt);
    return times.length > 0 ? Math.min(...times) : null;
  }

  tick(now: number): void {
    if (this.state === 'waiting' && now >= this.startAt) this.begin(now);
    if (this.state === 'locked') {
      if (this.afterLockLeft > 0 && now >= this.afterLockAt && this.locked) {
        this.afterLockLeft--;
        this.afterLockAt = now + 50;
        this.sendProbe(now, this.locked.socket, this.locked.remote, this.locked.kind);
      }
      return;
    }
    if (this.state !== 'punching') return;
    if (this.pendingLock && now >= this.pendingLock.graceUntil) return this.lock(now, this.pendingLock);
    if (now >= this.deadlineAt) return this.fail(now, 'no authenticated answer from any candidate in time');
    while (now >= this.nextRoundAt && this.state === 'punching') {
      this.probeRound(now);
      this.nextRoundAt += at(this.gaps, Math.min(this.round, this.gaps.length - 1));
      this.round++;
      if (this.nextRoundAt <= now) this.nextRoundAt = now + at(this.gaps, this.gaps.length - 1);
    }
    if (this.birthday && now >= this.birthdayNextAt) this.birthdayStep(now);
  }

  /** Stops punching (the caller gave up, or the session ended). Answers to probes continue. */
  cancel(now: number, reason: string): void {
    if (this.state === 'waiting' || this.state === 'punching') this.fail(now, reason);
  }

  /**
   * An authenticated probe-kind packet arrived on `socket` from `from`
   * (the caller opened it with the session's ProbeCodec).
   */
  handle(p: ProbePacket, from: UdpEndpoint, socket: number, now: number): void {
    switch (p.type) {
      case ProbeType.Probe:
        return this.onProbe(p, from, socket, now);
      case ProbeType.Ack:
        return this.onAck(p, from, socket, now);
      default:
        return;
    }
  }

  private begin(now: number): void {
    this.state = 'punching';
    this.timeline.record(now, 'start', undefined, `${this.candidates.length} candidates${this.awaitPeer ? ', waiting for the peer at our port mapping' : ''}`);
    if (this.primeTtl > 0) {
      for (const c of this.candidates) {
        // A LAN candidate is one hop away: a low-TTL prime would reach the peer.
        const socket = this.unsolicitedSocket(c);
        if (socket === undefined || isLanCandidate(c, this.localHosts)) continue;
        for (let i = 0; i < this.primeCount; i++) this.sendPrime(now, socket, c);
      }
    }
    this.tick(now);
  }

  private probeRound(now: number): void {
    for (const c of this.candidates) {
      const socket = this.unsolicitedSocket(c);
      if (socket !== undefined) this.sendProbe(now, socket, c, c.kind);
    }
  }

  /** The socket that probes `c` on its own initiative; undefined: none (no socket of its family, or the IPv4 side waits at its mapping). */
  private unsolicitedSocket(c: Candidate): number | undefined {
    const family = addressFamily(c.address);
    if (family === 6) return this.familySockets.v6;
    if (family === 4 && !this.awaitPeer) return this.familySockets.v4;
    return undefined;
  }

  private sendPrime(now: number, socket: number, to: UdpEndpoint): void {
    const { data } = this.codec.make(ProbeType.Prime, to);
    this.push({ socket, to, data, ttl: this.primeTtl });
    this.stats.primesSent++;
    this.timeline.record(now, 'prime-sent', to, `ttl ${this.primeTtl}`);
  }

  private sendProbe(now: number, socket: number, to: UdpEndpoint, kind: CandidateKind): void {
    const { data, nonce } = this.codec.make(ProbeType.Probe, to);
    this.push({ socket, to, data });
    this.remember(nonce, { socket, to, kind, sentAt: now });
    this.stats.probesSent++;
    this.timeline.record(now, 'probe-sent', to, socket === 0 ? kind : `${kind} from socket ${socket}`);
  }

  private birthdayStep(now: number): void {
    const b = this.birthday;
    if (b === null) return;
    // Birthday probing is for IPv4 NATs: only the IPv4 srflx counts.
    const hardAddress = this.candidates.find((c) => c.kind === 'srflx' && addressFamily(c.address) === 4)?.address;
    if (b.role === 'hard') {
      // Open (or refresh) one mapping per extra socket toward each of the
      // peer's public endpoints, TTL-limited so the peer's NAT never sees them.
      const first = b.firstSocket ?? 1;
      for (let s = first; s < first + b.sockets; s++) {
        for (const c of this.candidates) {
          if (c.kind !== 'srflx' || addressFamily(c.address) !== 4) continue;
          const { data } = this.codec.make(ProbeType.Prime, c);
          this.push({ socket: s, to: c, data, ttl: this.primeTtl > 0 ? this.primeTtl : 2 });
          this.stats.primesSent++;
        }
      }
      this.timeline.record(now, 'birthday-open', undefined, `${b.sockets} sockets`);
      this.birthdayNextAt = now + (b.refreshMs ?? 2000);
      return;
    }
    const v4 = this.familySockets.v4;
    if (hardAddress === undefined || this.birthdayLeft <= 0 || v4 === undefined) {
      this.birthdayNextAt = Infinity;
      return;
    }
    if (this.birthdayNonce === null) {
      this.birthdayNonce = this.random(8);
      this.birthdaySprayStartedAt = now;
      this.timeline.record(now, 'birthday-spray', undefined, `${b.probes} probes at ${b.perSecond}/s to ${hardAddress}`);
    }
    const stepMs = 10;
    const batch = Math.max(1, Math.min(this.birthdayLeft, Math.round((b.perSecond * stepMs) / 1000)));
    const lo = b.minPort ?? 1024;
    const hi = b.maxPort ?? 65535;
    for (let i = 0; i < batch; i++) {
      const port = lo + (this.random(4).readUInt32BE(0) % (hi - lo + 1));
      const to = { address: hardAddress, port };
      const { data } = this.codec.make(ProbeType.Probe, to, undefined, this.birthdayNonce);
      this.push({ socket: v4, to, data });
      this.birthdayPorts.add(port);
      this.stats.birthdayProbesSent++;
    }
    this.birthdayLeft -= batch;
    this.birthdayNextAt = this.birthdayLeft > 0 ? now + stepMs : Infinity;
  }

  private onProbe(p: ProbePacket, from: UdpEndpoint, socket: number, now: number): void {
    this.stats.probesReceived++;
    this.timeline.record(now, 'probe-received', from, socket === 0 ? undefined : `on socket ${socket}`);
    // Always answer: the peer may still be punching after we locked.
    const { data } = this.codec.make(ProbeType.Ack, from, p.nonce);
    this.push({ socket, to: from, data });
    this.stats.acksSent++;
    if (this.state !== 'punching' && this.state !== 'waiting') return;
    let known = this.candidates.find((c) => sameEndpoint(c, from));
    if (known === undefined && this.peerReflexive < this.maxPeerReflexive && this.candidates.length < this.maxCandidates + this.maxPeerReflexive) {
      known = { kind: 'prflx', address: from.address, port: from.port };
      this.candidates.push(known);
      this.peerReflexive++;
      this.timeline.record(now, 'peer-reflexive', from);
    }
    // A triggered probe: the path from here to there is likely open right now.
    if (this.state === 'punching') this.sendProbe(now, socket, from, known?.kind ?? 'prflx');
  }

  private onAck(p: ProbePacket, from: UdpEndpoint, socket: number, now: number): void {
    this.stats.acksReceived++;
    const key = p.echo.toString('hex');
    let sent = this.outstanding.get(key);
    if (sent === undefined && this.birthdayNonce !== null && p.echo.equals(this.birthdayNonce) && socket === this.familySockets.v4) {
      const hard = this.candidates.find((c) => c.kind === 'srflx' && addressFamily(c.address) === 4);
      if (hard !== undefined && sameAddress(from.address, hard.address) && this.birthdayPorts.has(from.port)) {
        sent = { socket, to: from, kind: 'prflx', sentAt: this.birthdaySprayStartedAt };
      }
    }
    if (sent === undefined || sent.socket !== socket || !sameEndpoint(sent.to, from)) {
      this.stats.acksUnmatched++;
      this.timeline.record(now, 'ack-unmatched', from);
      return;
    }
    // The ack's endpoint is where the peer saw our probe come from: in the
    // timeline, a port other than our srflx shows the NAT remapped the punch.
    const seenAs = p.endpoint === null ? '' : `, peer saw us at ${formatEndpoint(p.endpoint)}`;
    this.timeline.record(now, 'ack-received', from, `${sent.kind}${seenAs}`);
    if (this.state !== 'punching') return;
    const remote = { address: from.address, port: from.port };
    const found: LockedEndpoint = {
      socket,
      remote,
      kind: sent.kind,
      rttMs: Math.max(0, now - sent.sentAt),
      afterMs: now - this.startAt,
      lan: isLanCandidate({ kind: sent.kind, ...remote }, this.localHosts),
    };
    if (found.lan) return this.lock(now, found);
    const pending = this.pendingLock;
    if (pending !== null) {
      // Waiting already: keep the better of the two (see path-choice.ts).
      const best = choosePath({ ...found, address: remote.address }, { ...pending, address: pending.remote.address });
      if (best.remote !== pending.remote) {
        this.pendingLock = { ...found, graceUntil: pending.graceUntil };
        this.timeline.record(now, 'better-path', from, `${found.kind}, rtt ${found.rttMs.toFixed(1)} ms`);
      }
      return;
    }
    // A LAN path may still answer; an IPv6 path may still answer in time to win.
    const lanWait = this.lanPossible ? this.lanGraceMs : 0;
    const familyWait = this.bothFamilies() ? otherFamilyWaitMs({ address: remote.address, rttMs: found.rttMs, lan: false }) : 0;
    const wait = Math.max(lanWait, familyWait);
    if (wait <= 0) return this.lock(now, found);
    this.pendingLock = { ...found, graceUntil: now + wait };
    const why = lanWait >= familyWait ? 'a LAN path' : 'an IPv6 path';
    this.timeline.record(now, 'path-grace', from, `waiting ${wait.toFixed(1)} ms for ${why}`);
  }

  /** Both families are being probed: we have a socket of each and the peer offered candidates of each. */
  private bothFamilies(): boolean {
    if (this.familySockets.v4 === undefined || this.familySockets.v6 === undefined) return false;
    const families = new Set(this.candidates.map((c) => addressFamily(c.address)));
    return families.has(4) && families.has(6);
  }

  private lock(now: number, found: LockedEndpoint): void {
    this.locked = {
      socket: found.socket,
      remote: found.remote,
      kind: found.kind,
      rttMs: found.rttMs,
      afterMs: found.afterMs,
      lan: found.lan,
    };
    this.pendingLock = null;
    this.state = 'locked';
    this.outstanding.clear();
    this.birthdayPorts.clear();
    this.afterLockLeft = this.afterLockProbes;
    this.afterLockAt = now;
    this.timeline.record(now, 'locked', found.remote, `${found.kind}, rtt ${found.rttMs.toFixed(1)} ms`);
    this.tick(now);
  }

  private fail(now: number, reason: string): void {
    this.state = 'failed';
    this.failure = reason;
    this.outstanding.clear();
    this.birthdayPorts.clear();
    this.timeline.record(now, 'failed', undefined, reason);
  }

  private remember(nonce: Buffer, o: Outstanding): void {
    if (this.outstanding.size >= MAX_OUTSTANDING) {
      const oldest = this.outstanding.keys().next().value;
      if (oldest !== undefined) this.outstanding.delete(oldest);
    }
    this.outstanding.set(nonce.toString('hex'), o);
  }

  private push(t: Transmit): void {
    // Bounded: a peer that never drains loses the oldest probes, like a full socket would.
    if (this.queue.length >= MAX_QUEUE) this.queue.shift();
    this.queue.push(t);
  }
}

