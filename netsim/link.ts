import type { Scheduler } from '../src/clock/scheduler.js';
import type { SeededRandom } from './random.js';

/** How one direction of a virtual link treats packets. */
export interface LinkProfile {
  /** Base one-way delay. */
  delayMs?: number;
  /** Extra uniform random delay in [0, jitterMs]; packets may overtake each other. */
  jitterMs?: number;
  /** Probability a packet is dropped. */
  loss?: number;
  /** Probability a packet is delivered twice. */
  duplicate?: number;
  /** Probability a packet is held back by `reorderDelayMs` (reordering without jitter). */
  reorder?: number;
  reorderDelayMs?: number;
  /** Packets larger than this are dropped, as a router with DF set would. */
  mtu?: number;
  /** Never deliver a packet before one sent earlier (jitter without reordering). */
  inOrder?: boolean;
  /** Serialisation rate; 0 or absent = infinite. */
  bandwidthBytesPerSec?: number;
  /** Drop-tail queue in front of a rate-limited link. */
  queueBytes?: number;
}

export interface LinkStats {
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  tooBig: number;
  queueDrops: number;
}

export type LinkReceiver = (packet: Buffer) => void;

/** One end of a virtual link: what you send arrives at the other end. */
export class LinkEnd {
  private receiver: LinkReceiver | null = null;
  peer!: LinkEnd;
  readonly stats: LinkStats = { sent: 0, delivered: 0, lost: 0, duplicated: 0, tooBig: 0, queueDrops: 0 };
  /** Virtual time at which the serialiser is free again (rate-limited links). */
  private busyUntil = 0;
  /** Delivery time of the latest packet scheduled (for in-order links). */
  private lastArrival = 0;
  /** When false the end neither sends nor receives (a peer that vanished). */
  up = true;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly rng: SeededRandom,
    /** Profile applied to packets sent from this end. */
    public profile: LinkProfile,
  ) {}

  onReceive(receiver: LinkReceiver): void {
    this.receiver = receiver;
  }

  send(packet: Uint8Array): void {
    if (!this.up) return;
    const p = this.profile;
    this.stats.sent++;
    if (p.mtu !== undefined && packet.length > p.mtu) {
      this.stats.tooBig++;
      return;
    }
    const now = this.scheduler.now();
    let departure = now;
    const rate = p.bandwidthBytesPerSec ?? 0;
    if (rate > 0) {
      const start = Math.max(now, this.busyUntil);
      const backlogBytes = (start - now) * (rate / 1000);
      if (backlogBytes + packet.length > (p.queueBytes ?? 256 * 1024)) {
        this.stats.queueDrops++;
        return;
      }
      this.busyUntil = start + (packet.length * 1000) / rate;
      departure = this.busyUntil;
    }
    if (this.rng.chance(p.loss ?? 0)) {
      this.stats.lost++;
      return;
    }
    // Copy: the sender may reuse its buffer once send returns.
    const copy = Buffer.from(packet);
    this.schedule(copy, departure);
    if (this.rng.chance(p.duplicate ?? 0)) {
      this.stats.duplicated++;
      this.schedule(copy, departure);
    }
  }

  private schedule(packet: Buffer, departure: number): void {
    const p = this.profile;
    let delay = p.delayMs ?? 0;
    if (p.jitterMs) delay += this.rng.next() * p.jitterMs;
    if (this.rng.chance(p.reorder ?? 0)) delay += p.reorderDelayMs ?? 10;
    let arrival = departure + delay;
    if (p.inOrder) {
      arrival = Math.max(arrival, this.lastArrival);
      this.lastArrival = arrival;
    }
    const peer = this.peer;
    this.scheduler.at(arrival, () => peer.deliver(packet));
  }

  private deliver(packet: Buffer): void {
    if (!this.up || this.receiver === null) return;
    this.stats.delivered++;
    this.receiver(packet);
  }
}

/** A point-to-point link with an independent profile per direction. */
export class VirtualLink {
  readonly a: LinkEnd;
  readonly b: LinkEnd;

  constructor(scheduler: Scheduler, rng: SeededRandom, aToB: LinkProfile, bToA: LinkProfile = aToB) {
    this.a = new LinkEnd(scheduler, rng.fork(), aToB);
    this.b = new LinkEnd(scheduler, rng.fork(), bToA);
    this.a.peer = this.b;
    this.b.peer = this.a;
  }
}
