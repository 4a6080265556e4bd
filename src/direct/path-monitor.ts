import type { UdpEndpoint } from '../net/udp-socket.js';
import { ProbeType, type ProbeCodec, type ProbePacket, type Transmit } from '../punch/index.js';
import { DIRECT_TIMERS } from './timers.js';

export interface PathMonitorOptions {
  codec: ProbeCodec;
  socket: number;
  remote: UdpEndpoint;
  now: number;
  /**
   * Keepalive when nothing was sent on the path for this long: holds the NAT
   * mappings open (well under the common 30 s UDP timeout). Default DIRECT_TIMERS.keepaliveInitialMs.
   */
  keepaliveMs?: number;
  /** Sent but heard nothing back for this long: the path is suspect and gets checked quickly. Default DIRECT_TIMERS.suspectAfterMs. */
  suspectAfterMs?: number;
  /** Checks while suspect, this far apart. Default DIRECT_TIMERS.checkIntervalMs. */
  checkIntervalMs?: number;
  /** Suspect for this long with no answer: the path is dead. Default DIRECT_TIMERS.deadAfterMs. */
  deadAfterMs?: number;
}

export type PathHealth = 'alive' | 'suspect' | 'dead';

/**
 * Sans-I/O liveness of a locked direct path. The session's traffic is the
 * main evidence: every authenticated packet from the path counts. When the
 * path goes quiet while we are sending (a NAT mapping flushed or rebound), or
 * a keepalive goes unanswered, it sends authenticated checks a few hundred
 * ms apart and declares the path dead if none is answered, so the session can
 * move to the relay and punch again.
 */
export class PathMonitor {
  health: PathHealth = 'alive';
  readonly remote: UdpEndpoint;
  readonly socket: number;
  private readonly codec: ProbeCodec;
  private readonly keepaliveMs: number;
  private readonly suspectAfterMs: number;
  private readonly checkIntervalMs: number;
  private readonly deadAfterMs: number;
  private lastHeard: number;
  private lastSent: number;
  /** When we started waiting for an answer (first unanswered send or keepalive). */
  private waitingSince: number | null = null;
  private suspectSince = 0;
  private nextCheckAt = 0;
  private queue: Transmit[] = [];
  keepalivesSent = 0;
  /**
   * How long the path had been quiet (nothing heard) before the send that
   * went unanswered: when a path dies after idling, the NAT's mapping
   * lifetime is probably shorter than that.
   */
  idleBeforeLossMs: number | null = null;
  checksSent = 0;

  constructor(opts: PathMonitorOptions) {
    this.codec = opts.codec;
    this.socket = opts.socket;
    this.remote = opts.remote;
    this.keepaliveMs = opts.keepaliveMs ?? DIRECT_TIMERS.keepaliveInitialMs;
    this.suspectAfterMs = opts.suspectAfterMs ?? DIRECT_TIMERS.suspectAfterMs;
    this.checkIntervalMs = opts.checkIntervalMs ?? DIRECT_TIMERS.checkIntervalMs;
    this.deadAfterMs = opts.deadAfterMs ?? DIRECT_TIMERS.deadAfterMs;
    this.lastHeard = opts.now;
    this.lastSent = opts.now;
  }

  /**
   * The session sent a packet on this path. Returns true when this started
   * the wait for an answer (the deadline moved closer: re-arm the timer).
   */
  onSent(now: number): boolean {
    this.lastSent = now;
    if (this.waitingSince !== null) return false;
    this.waitingSince = now;
    return true;
  }

  /** An authenticated packet (session or keepalive) came in from the path. */
  onHeard(now: number): void {
    this.lastHeard = now;
    this.waitingSince = null;
    if (this.health === 'suspect') this.health = 'alive';
  }

  /** A probe-kind packet from the peer on this path. */
  handle(p: ProbePacket, from: UdpEndpoint, now: number): void {
    if (p.type === ProbeType.Keepalive) {
      const { data } = this.codec.make(ProbeType.KeepaliveAck, from, p.nonce);
      this.queue.push({ socket: this.socket, to: from, data });
    }
    if (p.type === ProbeType.Keepalive || p.type === ProbeType.KeepaliveAck) this.onHeard(now);
  }

  tick(now: number): void {
    if (this.health === 'dead') return;
    // Each test compares `now` with the very sum nextDeadline() returns: with
    // fractional clock values `now - a >= b` can be false at now = a + b, and
    // a timer armed for that deadline would fire without effect, forever.
    if (this.health === 'alive') {
      if (now >= this.suspectAt()) {
        this.health = 'suspect';
        this.suspectSince = now;
        this.idleBeforeLossMs = Math.max(0, (this.waitingSince ?? now) - this.lastHeard);
        this.nextCheckAt = now;
      } else if (now >= this.keepaliveAt()) {
        this.send(now, ProbeType.Keepalive);
        this.keepalivesSent++;
      }
    }
    if (this.health === 'suspect') {
      if (now >= this.suspectSince + this.deadAfterMs) {
        this.health = 'dead';
        return;
      }
      if (now >= this.nextCheckAt) {
        this.send(now, ProbeType.Keepalive);
        this.checksSent++;
        this.nextCheckAt = now + this.checkIntervalMs;
      }
    }
  }

  nextDeadline(): number | null {
    if (this.health === 'dead') return null;
    if (this.health === 'suspect') return Math.min(this.nextCheckAt, this.suspectSince + this.deadAfterMs);
    return Math.min(this.keepaliveAt(), this.suspectAt());
  }

  /** Nothing sent or heard since this: send a keepalive. */
  private keepaliveAt(): number {
    return Math.max(this.lastSent, this.lastHeard) + this.keepaliveMs;
  }

  /** Waiting for an answer and nothing heard since this: the path is suspect. */
  private suspectAt(): number {
    return this.waitingSince === null ? Infinity : Math.max(this.waitingSince, this.lastHeard) + this.suspectAfterMs;
  }

  drain(): Transmit[] {
    const out = this.queue;
    this.queue = [];
    return out;
  }

  private send(now: number, type: typeof ProbeType.Keepalive): void {
    const { data } = this.codec.make(type, this.remote);
    this.queue.push({ socket: this.socket, to: this.remote, data });
    this.onSent(now);
  }
}
